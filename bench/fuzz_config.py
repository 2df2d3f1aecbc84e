"""bench/fuzz_front.py --part config and --part manifest: mutants of a config, each judged by `check-config` against
`run` (bench/fuzz_processes.py).

Part `config`. Three small configs are built in a scratch directory, each passing check-config and running:
`replay` (a CSV recording; terminal, jsonl and an MQTT sink with TLS files and a password file, its broker
absent), `bundle` (the simulated corridor scored by a copy of the builtin bundle) and `live` (udp, stdin, Modbus,
MQTT and OPC UA sources whose peers are absent). Each mutant changes one thing: a key dropped, another type, out of
range, an unknown key, a key moved to another block, an empty list, a list entry twice, a path that is no file /
a directory / an empty or garbage file / a FIFO, a bundle file truncated or deleted, its manifest edited, a TLS
file truncated or swapped, a source or sink of each kind with fields missing; and (chaos5) the config in YAML's own
forms: an entry or a mapping shared through an anchor and its alias, keys given through a merge key (`<<:`) or both
merged and given, a top-level key twice, a BOM with CRLF line ends (`yaml_form`). For each, `stad-agent check-config`
and `stad-agent run --max-ticks 3` are run as processes. run's verdict: exit 2 = refused; exit 1, a traceback or
a `source … failed` line = refused later; exit 0, or still running 4 s after its banner (a live source waits for
its peer; then SIGTERM and it must exit 0) = started. A mismatch is check-config 0 with run refusing, or
check-config 2 with run starting; both 2 must name the same problems. A traceback or a hang of either is a crash.

Part `manifest`: every key of the builtin bundle's manifest (two levels) set to each of MANIFEST_VALUES or deleted,
the bundle scored by the simulated corridor, judged as in part config.
"""
from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_processes import REPO, check_config, disagreement, free_port, run  # noqa: E402

BUILTIN_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
DEMO_SENSORS = [f"S0{i}_{q}" for i in range(1, 7) for q in ("flow", "occ", "speed")]


def tls_files(work: Path) -> dict:
    """A CA, and a client certificate and key it signed (openssl), in `work`."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=fuzz-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=fuzz-client", "-keyout", "client.key",
        "-out", "client.csr")
    ssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30",
        "-out", "client.crt")
    return {"ca_file": str(work / "ca.crt"), "cert_file": str(work / "client.crt"), "key_file": str(work / "client.key")}


def recording(path: Path, rows: int = 300) -> None:
    t0 = 1_767_600_000
    lines = ["timestamp,a,b,c"]
    for k in range(rows):
        lines.append(f"{t0 + k},{math.sin(k / 5):.4f},{math.cos(k / 7):.4f},{1 + 0.1 * math.sin(k / 3):.4f}")
    path.write_text("\n".join(lines) + "\n")


def bases(work: Path) -> dict[str, dict]:
    """The three configs mutants start from; their files in `work` (never replaced by a mutant: a mutant
    that breaks a file breaks a copy)."""
    recording(work / "rec.csv")
    (work / "password.txt").write_text("s3cret\n")
    tls = tls_files(work)
    shutil.copytree(BUILTIN_BUNDLE, work / "bundle")
    common = {"state_dir": str(work / "state"), "log_level": "info"}
    replay = {
        "node": {"id": "fuzz-gw", "site": "fuzz"}, "tick_s": 1, "sensors": ["a", "b", "c"],
        "sources": [{"type": "replay", "path": str(work / "rec.csv"), "separator": ",", "time_column": "timestamp",
                     "speed": 0}],
        "window": {"steps": 8, "carry_forward_s": 3, "lateness_ticks": 1},
        "warmup": {"ticks": 50, "fit_fraction": 0.7},
        "scoring": {"chain": ["numpy"]},
        "threshold": {"method": "pot", "risk": 0.001},
        "alerts": {"min_duration_ticks": 2, "clear_ticks": 3},
        "sinks": [{"type": "terminal"}, {"type": "jsonl", "path": str(work / "alerts.jsonl")},
                  {"type": "mqtt", "prefix": "stad",
                   "broker": {"host": "localhost", "port": free_port(), "username": "gw",
                              "password": {"file": str(work / "password.txt")}, "tls": dict(tls)}}],
        **common}
    bundle = {
        "tick_s": 30, "topology": "corridor", "sensors": list(DEMO_SENSORS),
        "sources": [{"type": "simulate", "scenario": "corridor", "seed": 3, "start": "2026-01-05T00:00:00Z",
                     "speed": 0}],
        "window": {"steps": 32, "carry_forward_s": 90},
        "warmup": {"ticks": 200},
        "scoring": {"chain": ["tflite", "onnx", "numpy"], "bundle": str(work / "bundle")},
        "sinks": [{"type": "jsonl", "path": str(work / "alerts.jsonl")}],
        **common}
    live = {
        "tick_s": 1, "sensors": ["a", "b", "c"],
        "sources": [{"type": "udp", "bind": "127.0.0.1", "port": free_port()},
                    {"type": "stdin"},
                    {"type": "modbus", "host": "127.0.0.1", "port": free_port(), "poll_s": 1.0,
                     "registers": {"a": 100}, "scale": {"a": 0.1}},
                    {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port()}, "topics": {"plant/b": "b"}},
                    {"type": "opcua", "url": f"opc.tcp://127.0.0.1:{free_port()}", "nodes": {"c": "ns=2;s=C"}}],
        "window": {"steps": 8},
        "warmup": {"ticks": 50},
        "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": str(work / "alerts.jsonl")}],
        **common}
    made = {"replay": replay, "bundle": bundle, "live": live}
    for path in sorted((REPO / "configs").glob("*.yaml")):
        made[path.stem] = runnable(path, work, tls)
    return made


def runnable(path: Path, work: Path, tls: dict) -> dict:
    """A shipped config made runnable here: its gateway's files, secrets and peers (/var/lib/stad-edge, the
    credential store, the PLC, the broker) replaced by files in `work` and free local ports; its TLS files are
    `tls`, its secrets a password file."""
    data = yaml.safe_load(path.read_text())
    data["state_dir"] = str(work / "state")
    if "models_dir" in data.get("scoring", {}):
        data["scoring"]["models_dir"] = str(work / "models")

    def own_secret(broker: dict) -> None:
        if "password" in broker:
            broker["password"] = {"file": str(work / "password.txt")}
        if "tls" in broker:
            broker["tls"] = {k: tls[k] for k in broker["tls"] if k in tls}
    for sink in data.get("sinks") or []:
        if sink["type"] == "jsonl":
            sink["path"] = str(work / "alerts.jsonl")
        elif sink["type"] == "mqtt":
            sink["broker"].update(host="localhost", port=free_port())
            own_secret(sink["broker"])
    for src in data["sources"]:
        if src["type"] in ("udp", "modbus"):
            src.update(port=free_port(), **({"host": "127.0.0.1"} if src["type"] == "modbus" else {}))
        elif src["type"] == "opcua":
            src.pop("security", None)
            src["url"] = f"opc.tcp://127.0.0.1:{free_port()}"
            if "password" in src:
                src["password"] = {"file": str(work / "password.txt")}
        elif src["type"] == "replay":
            for key in ("path", "labels_file"):
                if key in src:
                    src[key] = src[key].replace("../../shared/data", "/work/shared/data")
    return data


# a source / sink of each kind, whole: "missing fields" mutants drop some of these
SOURCE_KINDS = {
    "replay": lambda w: {"type": "replay", "path": str(w / "rec.csv"), "format": "csv", "separator": ",",
                         "time_column": "timestamp", "columns": {"a": "a"}, "label_columns": [], "speed": 0},
    "simulate": lambda w: {"type": "simulate", "scenario": "pump", "seed": 1, "start": "2026-01-05T00:00:00Z",
                           "duration_s": 600, "speed": 0, "anomalies": [{"kind": "spike", "at_s": 60, "target": "a"}]},
    "stdin": lambda w: {"type": "stdin", "max_line_bytes": 4096},
    "udp": lambda w: {"type": "udp", "bind": "127.0.0.1", "port": free_port(), "max_datagram": 4096},
    "modbus": lambda w: {"type": "modbus", "host": "127.0.0.1", "port": free_port(), "unit_id": 1, "poll_s": 1,
                         "registers": {"a": 10, "b": 11}, "scale": {"a": 0.5}, "data_types": {"b": "int16"},
                         "word_order": "ABCD", "table": "holding", "tables": {"a": "input"}},
    "mqtt": lambda w: {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port(), "username": "u",
                                                   "password": {"file": str(w / "password.txt")}},
                       "topics": {"plant/+/a": "a", "plant/all": "*"}, "qos": 1, "max_payload_bytes": 4096},
    "opcua": lambda w: {"type": "opcua", "url": f"opc.tcp://127.0.0.1:{free_port()}", "nodes": {"a": "ns=2;s=A"},
                        "username": "u", "password": {"file": str(w / "password.txt")}, "timeout_s": 2},
}
SINK_KINDS = {
    "terminal": lambda w: {"type": "terminal", "color": False},
    "jsonl": lambda w: {"type": "jsonl", "path": str(w / "more-alerts.jsonl")},
    "mqtt": lambda w: {"type": "mqtt", "prefix": "x", "broker": {"host": "127.0.0.1", "port": free_port(),
                                                                  "client_id": "c1"},
                       "alert_expiry_s": 60, "health_interval_s": 5, "outbox": {"max_events": 100}},
}

VALUES = [None, "zz", "", -1, 0, 0.5, 1e12, -1e12, float("nan"), float("inf"), [], {}, True, ["zz"], {"zz": 1},
          "2026-13-45T99:00:00Z", 70000, "1e3", "../../..", "a\x00b", "\u00e9" * 3, 2**63]
PATH_KEYS = {"path", "labels_file", "bundle", "ca_file", "cert_file", "key_file", "file", "state_dir",
             "models_dir", "replay", "certificate", "private_key", "server_certificate"}


def key_paths(node, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a loaded YAML document (mapping keys and list indexes), parents first."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out += key_paths(value, prefix + (key,))
    return out


def at(data, path: tuple):
    for key in path:
        data = data[key]
    return data


def bad_path(kind: str, work: Path) -> str:
    """A path of `kind` made in `work`: missing, a directory, empty, garbage, under a file, a FIFO."""
    if kind == "missing":
        return str(work / "no-such" / "file")
    if kind == "dir":
        (work / "a-dir").mkdir(exist_ok=True)
        (work / "a-dir" / "notes.txt").write_text("not it\n")
        return str(work / "a-dir")
    if kind == "empty":
        (work / "empty.txt").write_text("")
        return str(work / "empty.txt")
    if kind == "garbage":
        (work / "garbage.bin").write_bytes(bytes(range(256)) * 4)
        return str(work / "garbage.bin")
    if kind == "under-file":
        (work / "plain.txt").write_text("x\n")
        return str(work / "plain.txt" / "inner")
    if kind == "fifo":
        if not (work / "fifo").exists():
            os.mkfifo(work / "fifo")
        return str(work / "fifo")
    raise ValueError(kind)


PATH_KINDS = ["missing", "dir", "empty", "garbage", "under-file", "fifo"]


def mutate(base: dict, work: Path, rng: random.Random) -> tuple[dict, str] | None:
    """One mutant of `base` (files it needs made in `work`) and what was done; None when the draw does not apply."""
    data = copy.deepcopy(base)
    paths = key_paths(data)
    how = rng.choice(["set", "set", "set", "del", "unknown", "misplace", "empty", "twice", "path", "path",
                      "bundle", "tls", "source", "source", "sink", "yaml", "yaml"])
    if how == "yaml":
        return yaml_form(data, paths, rng)
    if how in ("set", "del"):
        path = rng.choice(paths)
        parent = at(data, path[:-1])
        if how == "del":
            del parent[path[-1]]
            return data, f"del {path}"
        value = rng.choice(VALUES)
        parent[path[-1]] = value
        return data, f"set {path} = {value!r}"
    if how == "unknown":
        maps = [p for p in paths if isinstance(at(data, p), dict)] + [()]
        path = rng.choice(maps)
        at(data, path)["zz_unknown"] = 1
        return data, f"unknown key under {path}"
    if how == "misplace":
        leaves = [p for p in paths if len(p) >= 2 and not isinstance(p[-1], int) and
                  isinstance(at(data, p[:-1]), dict)]
        maps = [p for p in paths if isinstance(at(data, p), dict)] + [()]
        if not leaves:
            return None
        src, dst = rng.choice(leaves), rng.choice(maps)
        if dst == src[:-1] or dst[:len(src)] == src or src[-1] in at(data, dst):
            return None
        at(data, dst)[src[-1]] = at(data, src[:-1]).pop(src[-1])
        return data, f"moved {src} under {dst}"
    if how in ("empty", "twice"):
        lists = [p for p in paths if isinstance(at(data, p), list) and at(data, p)]
        if not lists:
            return None
        path = rng.choice(lists)
        node = at(data, path)
        if how == "empty":
            node.clear()
            return data, f"empty list {path}"
        node.append(copy.deepcopy(rng.choice(node)))
        return data, f"list entry twice at {path}"
    if how == "path":
        keyed = [p for p in paths if not isinstance(p[-1], int) and p[-1] in PATH_KEYS and
                 isinstance(at(data, p), str)]
        if not keyed:
            return None
        path, kind = rng.choice(keyed), rng.choice(PATH_KINDS)
        at(data, path[:-1])[path[-1]] = bad_path(kind, work)
        return data, f"path {path} -> {kind}"
    if how == "bundle":
        bundle = data.get("scoring", {}).get("bundle")
        if not bundle or bundle.startswith("builtin:"):
            return None
        copy_dir = work / f"bundle-{rng.randrange(10**9)}"
        shutil.copytree(bundle, copy_dir)
        data["scoring"]["bundle"] = str(copy_dir)
        files = sorted(p.name for p in copy_dir.iterdir())
        what = rng.choice(["truncate", "truncate", "delete", "manifest-json", "manifest-key", "manifest-value",
                           "flip-byte"])
        if what == "truncate":
            name = rng.choice([f for f in files if f.endswith((".tflite", ".onnx", ".npy"))])
            blob = (copy_dir / name).read_bytes()
            (copy_dir / name).write_bytes(blob[:rng.randrange(len(blob))])
        elif what == "flip-byte":
            name = rng.choice([f for f in files if f.endswith((".tflite", ".onnx", ".npy"))])
            blob = bytearray((copy_dir / name).read_bytes())
            i = rng.randrange(len(blob))
            blob[i] ^= 0xFF
            (copy_dir / name).write_bytes(bytes(blob))
        elif what == "delete":
            name = rng.choice(files)
            (copy_dir / name).unlink()
        else:
            manifest = json.loads((copy_dir / "manifest.json").read_text())
            name = "manifest.json"
            if what == "manifest-json":
                (copy_dir / name).write_text(json.dumps(manifest)[:-rng.randint(1, 50)])
            else:
                mpaths = key_paths(manifest)
                mp = rng.choice(mpaths)
                parent = at(manifest, mp[:-1])
                if what == "manifest-key":
                    del parent[mp[-1]]
                else:
                    parent[mp[-1]] = rng.choice(VALUES[:17])
                (copy_dir / name).write_text(json.dumps(manifest))
                name = f"manifest {what} {mp}"
        return data, f"bundle {what} {name}"
    if how == "tls":
        tls_paths = [p for p in paths if p[-1] in ("ca_file", "cert_file", "key_file")]
        if not tls_paths:
            return None
        path = rng.choice(tls_paths)
        what = rng.choice(["truncate", "swap", "drop-cert", "drop-key"])
        if what == "truncate":
            src = Path(at(data, path))
            dst = work / f"cut-{src.name}"
            text = src.read_bytes()
            dst.write_bytes(text[:rng.randrange(len(text))])
            at(data, path[:-1])[path[-1]] = str(dst)
        elif what == "swap":
            others = [work / n for n in ("ca.crt", "client.crt", "client.key", "ca.key") if str(work / n) != at(data, path)]
            at(data, path[:-1])[path[-1]] = str(rng.choice(others))
        else:
            at(data, path[:-1]).pop("cert_file" if what == "drop-cert" else "key_file", None)
        return data, f"tls {what} {path}"
    if how in ("source", "sink"):
        kinds = SOURCE_KINDS if how == "source" else SINK_KINDS
        kind = rng.choice(sorted(kinds))
        entry = kinds[kind](work)
        drop = [k for k in entry if k != "type" and rng.random() < 0.4]
        for k in drop:
            del entry[k]
        if rng.random() < 0.3:                                   # and one field of another type
            k = rng.choice(sorted(entry))
            entry[k] = rng.choice(VALUES)
            drop.append(f"{k}={entry[k]!r}")
        key = "sources" if how == "source" else "sinks"
        data.setdefault(key, [])
        if rng.random() < 0.5 and data[key]:
            data[key][0] = entry
        else:
            data[key].append(entry)
        return data, f"{how} {kind} less {drop}"
    return None


class YamlText(str):
    """A mutant written as this text (its YAML's own form: anchors, merge keys, a key twice), not dumped from data."""


def yaml_form(data: dict, paths: list[tuple], rng: random.Random) -> tuple[YamlText, str] | None:
    """The config in a YAML form the other mutations never write (chaos5): one entry of a list or one mapping shared
    by two places through an anchor and its alias; a mapping's keys given through a merge key (`<<:`), or a key
    both merged and given (the given one wins, as YAML says); a top-level key twice; a BOM, CRLF line ends. Each
    but the key twice means the same config as before, so check-config and run must still agree."""
    what = rng.choice(["alias entry", "alias mapping", "merge", "merge overridden", "key twice", "bom crlf"])

    def dump(d: dict) -> str:           # an object in two places is dumped as &id001 … *id001
        return yaml.safe_dump(d, sort_keys=False, allow_unicode=True)
    if what == "alias entry":
        lists = [p for p in paths if isinstance(at(data, p), list) and at(data, p)
                 and isinstance(at(data, p)[0], (dict, list))]
        if not lists:
            return None
        path = rng.choice(lists)
        node = at(data, path)
        node.append(rng.choice(node))
        return YamlText(dump(data)), f"yaml: a list entry twice through an alias at {path}"
    if what == "alias mapping":
        maps = [p for p in paths if isinstance(at(data, p), dict) and not isinstance(p[-1], int)]
        pairs = [(a, b) for a in maps for b in maps if a != b and a[-1] == b[-1] and a[:len(b)] != b and
                 b[:len(a)] != a]
        if not pairs:
            return None
        a, b = rng.choice(pairs)
        at(data, b[:-1])[b[-1]] = at(data, a)
        return YamlText(dump(data)), f"yaml: {b} an alias of {a}"
    if what in ("merge", "merge overridden"):
        maps = [p for p in [(), *paths] if isinstance(at(data, p), dict) and at(data, p)]
        path = rng.choice(maps)
        node = at(data, path)
        keys = rng.sample(sorted(node, key=str), rng.randint(1, len(node)))
        merged = {k: node[k] for k in keys}
        if what == "merge overridden":     # the merged value is another's; the one given beside it wins
            merged[keys[0]] = rng.choice(VALUES)
        else:
            for k in keys:
                del node[k]
        node["<<"] = merged
        return YamlText(dump(data).replace("'<<':", "<<:")), f"yaml: {what} of {keys} at {path}"
    if what == "key twice":
        key = rng.choice([k for k in data if k != "sources"] or ["sources"])
        again = dump({key: rng.choice([data[key], *VALUES[:6]])})
        return YamlText(dump(data) + again), f"yaml: top-level key {key!r} twice"
    return YamlText("\ufeff" + dump(data).replace("\n", "\r\n")), "yaml: a BOM and CRLF line ends"


def fresh_ports(node) -> None:
    """Every `port` and OPC UA url of `node` moved to a free port: mutants run side by side."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if key == "port" and isinstance(value, int) and value > 0:
            node[key] = free_port()
        elif key == "url" and isinstance(value, str) and value.startswith("opc.tcp://127.0.0.1:"):
            node[key] = f"opc.tcp://127.0.0.1:{free_port()}"
        else:
            fresh_ports(value)


def one_mutant(i: int, seed: int, base_name: str, base_work: Path, root: Path) -> dict:
    rng = random.Random(seed * 100_003 + i)
    work = root / f"m{i}"
    work.mkdir()
    text = (base_work / f"{base_name}.yaml").read_text()     # its own state and alerts: mutants run side by side
    base = yaml.safe_load(text.replace(str(base_work / "state"), str(work / "state"))
                          .replace(str(base_work / "alerts.jsonl"), str(work / "alerts.jsonl")))
    fresh_ports(base)
    for _ in range(20):
        drawn = mutate(base, work, rng)
        if drawn:
            break
    else:
        return {"i": i, "skipped": True}
    data, what = drawn
    config = work / "agent.yaml"
    config.write_text(data if isinstance(data, YamlText) else yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                      newline="")
    check = check_config(config)
    out = {"i": i, "base": base_name, "mutant": what}
    if check["crash"] or check["code"] not in (0, 2):
        out["crash"] = f"check-config exit {check['code']}: {check['crash'] or check.get('stderr')}"
        return out
    ran = run(config)
    out.update(check=check["code"], run=ran["verdict"], run_code=ran["code"], **disagreement(check, ran))
    if check["code"] == 2:
        out["said"] = check["problems"][:3]
    shutil.rmtree(work, ignore_errors=True)
    return out


def fuzz_config(seed: int, mutants: int, jobs: int, root: Path, only: str | None) -> dict:
    base_work = root / "base"
    base_work.mkdir(parents=True)
    made = bases(base_work)
    base_checks = {}
    names = [only] if only else sorted(made)
    for name, data in made.items():
        if name not in names:
            continue
        f = base_work / f"{name}.yaml"
        f.write_text(yaml.safe_dump(data, sort_keys=False))
        c, r = check_config(f), run(f)
        base_checks[name] = {"check": c["code"], "run": r["verdict"], "why": r["why"] or c.get("crash")}
    assert all(v["check"] == 0 and v["run"] == "started" for v in base_checks.values()), base_checks
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda i: one_mutant(i, seed, names[i % len(names)], base_work, root), range(mutants)))
    tried = [r for r in results if not r.get("skipped")]
    return {"seed": seed, "mutants": len(tried), "check_ok": sum(r.get("check") == 0 for r in tried),
            "check_refused": sum(r.get("check") == 2 for r in tried),
            "noted": [r for r in tried if r.get("noted")], "mismatches": [r for r in tried if r.get("mismatch")], "crashes": [r for r in tried if r.get("crash")],
            "wall_s": round(time.monotonic() - started, 1), "bases": base_checks}


# ---------------------------------------------------------------- part manifest

MANIFEST_VALUES = ["<del>", "zz", None, -1, [], 1e12]


def manifest_paths(manifest: dict) -> list[tuple]:
    """The manifest's keys, its mappings' first keys and its lists' first entries (two levels)."""
    out = []
    for key, value in manifest.items():
        out.append((key,))
        if isinstance(value, dict):
            out += [(key, k) for k in list(value)[:6]]
        elif isinstance(value, list) and value:
            out.append((key, 0))
    return out


def one_manifest(i: int, jobs: list, root: Path, config_text: str) -> dict:
    path, value = jobs[i]
    work = root / f"b{i}"
    shutil.copytree(BUILTIN_BUNDLE, work / "bundle")
    manifest = json.loads((work / "bundle" / "manifest.json").read_text())
    node = at(manifest, path[:-1])
    if value == "<del>":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    (work / "bundle" / "manifest.json").write_text(json.dumps(manifest))
    config = work / "agent.yaml"
    config.write_text(config_text.replace("@BUNDLE@", str(work / "bundle")).replace("@WORK@", str(work)))
    check = check_config(config)
    out = {"manifest": f"{path} = {value!r}", "check": check["code"]}
    if check["crash"] or check["code"] not in (0, 2):
        out["crash"] = f"check-config exit {check['code']}: {check['crash'] or check.get('stderr')}"
    elif check["code"] == 0:
        ran = run(config)
        out["run"] = ran["verdict"]
        if ran["verdict"] != "started":
            out["mismatch"] = f"check-config ok, run {ran['verdict']}: {ran['why']}"
    shutil.rmtree(work, ignore_errors=True)
    return out


def fuzz_manifest(jobs_n: int, root: Path) -> dict:
    """Every key of the builtin bundle's manifest (two levels) set to each of MANIFEST_VALUES or deleted, the
    bundle scored by the simulated corridor: check-config against run, as in part config."""
    root.mkdir(parents=True)
    manifest = json.loads((BUILTIN_BUNDLE / "manifest.json").read_text())
    jobs = [(p, v) for p in manifest_paths(manifest) for v in MANIFEST_VALUES]
    config_text = yaml.safe_dump({
        "tick_s": 30, "topology": "corridor", "sensors": list(DEMO_SENSORS),
        "sources": [{"type": "simulate", "scenario": "corridor", "seed": 3, "speed": 0}], "window": {"steps": 32},
        "warmup": {"ticks": 40}, "scoring": {"chain": ["tflite", "onnx", "numpy"], "bundle": "@BUNDLE@"},
        "sinks": [{"type": "jsonl", "path": "@WORK@/alerts.jsonl"}], "state_dir": "@WORK@/state"})
    started = time.monotonic()
    with ThreadPoolExecutor(jobs_n) as pool:
        results = list(pool.map(lambda i: one_manifest(i, jobs, root, config_text), range(len(jobs))))
    return {"mutants": len(results), "check_ok": sum(r["check"] == 0 for r in results),
            "check_refused": sum(r["check"] == 2 for r in results),
            "mismatches": [r for r in results if r.get("mismatch")], "crashes": [r for r in results if r.get("crash")],
            "wall_s": round(time.monotonic() - started, 1)}
