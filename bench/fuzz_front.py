"""Fuzz the agent's two front doors with real processes: the config (`check-config` against `run`) and the
records (stdin, udp and replay lines). Prints JSON.

Run: python bench/fuzz_front.py [--part config|records|both] [--seed 1] [--mutants 60] [--jobs 2]

Part `config`. Three small configs are built in a scratch directory, each passing check-config and running:
`replay` (a CSV recording; terminal, jsonl and an MQTT sink with TLS files and a password file, its broker
absent), `bundle` (the simulated corridor scored by a copy of the builtin bundle) and `live` (udp, stdin, Modbus,
MQTT and OPC UA sources whose peers are absent). Each mutant changes one thing: a key dropped, another type, out of
range, an unknown key, a key moved to another block, an empty list, a list entry twice, a path that is no file /
a directory / an empty or garbage file / a FIFO, a bundle file truncated or deleted, its manifest edited, a TLS
file truncated or swapped, a source or sink of each kind with fields missing. For each, `stad-agent check-config`
and `stad-agent run --max-ticks 3` are run as processes. run's verdict: exit 2 = refused; exit 1, a traceback or
a `source … failed` line = refused later; exit 0, or still running 4 s after its banner (a live source waits for
its peer; then SIGTERM and it must exit 0) = started. A mismatch is check-config 0 with run refusing, or
check-config 2 with run starting; both 2 must name the same problems. A traceback or a hang of either is a crash.

Part `records`. One clean stream (3 sensors, a spike that alerts) is fed through stdin, udp, a JSONL replay and a
CSV replay, then the same stream with bad lines between the good ones: malformed JSON, NaN / inf / 1e999, strings
for numbers, 1e300, far-future and far-past and duplicate and out-of-order stamps, unknown sensors, a 10 MB line,
invalid UTF-8, and the good lines themselves with a BOM or CRLF. Each bad line touches a (tick, sensor) whose good
reading came before it, so that whatever the agent does with it, the clean run's alerts must come out unchanged:
exit 0, no traceback, every alert event the same, every bad line counted as rejected under a reason of
agent/records.py REJECT_REASONS, and each reason's first lines named with the file:line or source.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUILTIN_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
DEMO_SENSORS = [f"S0{i}_{q}" for i in range(1, 7) for q in ("flow", "occ", "speed")]
PROCESS_TIMEOUT_S = 120.0
LIVE_GRACE_S = 4.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def agent_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CREDENTIALS_DIRECTORY", None)
    return env


# ---------------------------------------------------------------- part config: the scratch files and bases

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
                      "bundle", "tls", "source", "source", "sink"])
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


def problems(stderr: str, config: Path) -> list[str]:
    """The lines naming a problem of `config` (check-config's and run's refusal lines)."""
    prefix = f"{config}: "
    return sorted(line for line in stderr.splitlines() if line.startswith(prefix) and "note:" not in line
                  and "problem(s)" not in line)


def check_config(config: Path) -> dict:
    try:
        res = subprocess.run(agent_cmd("check-config", "-c", str(config)), capture_output=True, text=True,
                             cwd=config.parent, env=agent_env(), timeout=PROCESS_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"code": None, "crash": "check-config hung", "problems": []}
    crash = "Traceback" in res.stderr
    return {"code": res.returncode, "crash": res.stderr[-1500:] if crash else None,
            "problems": problems(res.stderr, config), "stderr": res.stderr[-1500:],
            "notes": [line.split("note: ", 1)[1] for line in res.stderr.splitlines() if line.startswith(f"{config}: note: ")]}


def run(config: Path) -> dict:
    """`run --max-ticks 3`: its verdict (`started` or `refused`), its exit and why."""
    with open(config.parent / "run.err", "w+") as err:
        proc = subprocess.Popen(agent_cmd("run", "-c", str(config), "--max-ticks", "3"), stdout=subprocess.DEVNULL,
                                stderr=err, stdin=subprocess.PIPE, cwd=config.parent, env=agent_env(),
                                start_new_session=True)
        deadline, banner_at, signalled = time.monotonic() + PROCESS_TIMEOUT_S, None, False
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            text = Path(err.name).read_text(errors="replace")
            if banner_at is None and "  sink: " in text:
                banner_at = time.monotonic()
            if banner_at is not None and time.monotonic() - banner_at > LIVE_GRACE_S and not signalled:
                proc.send_signal(signal.SIGTERM)
                signalled = True
                deadline = time.monotonic() + 60
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"verdict": "hung", "code": None, "why": "run did not end", "problems": []}
        text = Path(err.name).read_text(errors="replace")
    code = proc.returncode
    failed = [line for line in text.splitlines() if re.search(r"source .* failed|cannot start", line)]
    data = yaml.safe_load(config.read_text()) or {}
    if isinstance(data, dict) and isinstance(data.get("scoring"), dict) and data["scoring"].get("bundle") \
            and "scoring: tier numpy" in text:      # every model tier refused the bundle: numpy alone
        failed += [line for line in text.splitlines() if "refused the bundle" in line] or ["numpy alone"]
    why = None
    if "Traceback" in text:
        why = "traceback: " + text[text.index("Traceback"):][-1200:]
    elif code not in (0, None):
        why = f"exit {code}: " + " | ".join(text.strip().splitlines()[-3:])[-600:]
    elif failed:
        why = failed[0][-600:]
    return {"verdict": "started" if why is None else "refused", "code": code, "why": why,
            "problems": problems(text, config)}


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
    config.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    check = check_config(config)
    out = {"i": i, "base": base_name, "mutant": what}
    if check["crash"] or check["code"] not in (0, 2):
        out["crash"] = f"check-config exit {check['code']}: {check['crash'] or check.get('stderr')}"
        return out
    ran = run(config)
    out.update(check=check["code"], run=ran["verdict"], run_code=ran["code"])
    if ran["verdict"] == "hung":
        out["crash"] = "run hung"
    elif ran["why"] and ran["why"].startswith("traceback") and check["code"] == 0:
        out["crash"] = ran["why"]
    if check["code"] == 0 and ran["verdict"] == "refused" and check["notes"]:
        out["noted"] = f"check-config ok with notes {check['notes']}, run refused: {ran['why']}"
    elif check["code"] == 0 and ran["verdict"] == "refused":
        out["mismatch"] = f"check-config ok, run refused: {ran['why']}"
    elif check["code"] == 2 and ran["verdict"] == "started":
        out["mismatch"] = f"check-config refused ({check['problems']}), run started"
    elif check["code"] == 2 and ran["code"] == 2 and check["problems"] != ran["problems"]:
        out["mismatch"] = f"different words: check-config {check['problems']} run {ran['problems']}"
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


# ---------------------------------------------------------------- part records

RECORD_CONFIG = """
tick_s: {tick}
sensors: [a, b, c]
sources: [{source}]
warmup: {{ticks: 150}}
window: {{steps: 8, lateness_ticks: 1, carry_forward_s: {carry}}}
scoring: {{chain: [numpy]}}
threshold: {{method: pot, risk: 0.01}}
alerts: {{min_duration_ticks: 1, clear_ticks: 3}}
sinks: [{{type: jsonl, path: alerts.jsonl}}]
state_dir: state
log_level: info
"""
TEN_MB = 10 * 2**20


def clean_rows(t0: float, tick: float, n: int = 400) -> list[dict]:
    rng = random.Random(5)
    rows = []
    for k in range(n):
        a = math.sin(k / 6) + rng.gauss(0, 0.05) + (6.0 if 300 <= k < 304 else 0.0)
        rows.append({"ts": round(t0 + k * tick, 6), "a": round(a, 5), "b": round(math.cos(k / 9) + rng.gauss(0, 0.05), 5),
                     "c": round(0.5 * math.sin(k / 4) + rng.gauss(0, 0.05), 5)})
    return rows


def bad_json_lines(row: dict, prev: dict | None, rng: random.Random, t0: float, tick: float) -> list[tuple[str, bytes]]:
    """(kind, line) of bad JSON lines that may follow `row` (the tick after `prev`)."""
    ts = row["ts"]
    s = rng.choice("abc")
    kinds = {
        "malformed": lambda: b'{"ts": %r, "a": 1' % ts,
        "nan": lambda: b'{"ts": %r, "%s": NaN}' % (ts, s.encode()),
        "inf": lambda: b'{"ts": %r, "%s": -Infinity}' % (ts, s.encode()),
        "1e999": lambda: b'{"ts": %r, "%s": 1e999}' % (ts, s.encode()),
        "string number": lambda: json.dumps({"ts": ts, s: rng.choice(["abc", "12", "", "1,5"])}).encode(),
        "huge": lambda: json.dumps({"ts": ts, s: rng.choice([1e300, -1e300, 10**400])}).encode(),
        "far future": lambda: json.dumps({"ts": ts + rng.choice([86400 * 365 * 100, 4e9]), s: 1.0}).encode(),
        "far past": lambda: json.dumps({"ts": rng.choice([0, 1.0, -1e9]), s: 1.0}).encode(),
        "duplicate": lambda: json.dumps({"ts": ts, s: 99.0}).encode(),
        "out of order": lambda: json.dumps({"ts": (prev or row)["ts"] - 5 * tick, s: 1.0}).encode(),
        "unknown sensor": lambda: json.dumps({"ts": ts, "zz" + s: 1.0}).encode(),
        "ten MB": lambda: json.dumps({"ts": ts, s: 1.0, "pad": "x" * TEN_MB}).encode(),
        "invalid utf-8": lambda: b'{"ts": %r, "\xff\xfe%s": 1.0}' % (ts, s.encode()),
        "bad ts": lambda: json.dumps({"ts": rng.choice(["yesterday", None, [1], {"x": 1}, True]), s: 1.0}).encode(),
        "no ts": lambda: json.dumps({s: 1.0}).encode(),
        "not an object": lambda: rng.choice([b"[1, 2]", b"42", b'"x"', b"null"]),
        "binary": lambda: bytes(rng.getrandbits(8) for _ in range(40)).replace(b"\n", b" ").replace(b"\r", b" "),
        "deep": lambda: b'{"ts": %r, "values": ' % ts + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }
    kind = rng.choice(sorted(kinds))
    return [(kind, kinds[kind]())]


def good_json_line(row: dict, rng: random.Random, dress: bool) -> tuple[str, bytes]:
    line = json.dumps(row).encode()
    if dress:
        kind = rng.choice(["bom", "crlf"])
        return kind, (b"\xef\xbb\xbf" + line if kind == "bom" else line + b"\r")
    return "good", line


def dirty_stream(rows: list[dict], rng: random.Random, t0: float, tick: float, rate: float) -> tuple[list[bytes], dict]:
    """The good lines (some with a BOM or CRLF) with bad lines after some of them (none after the last 3 and none
    inside warm-up's first 10 ticks: the first record fixes a replay's time base)."""
    lines, made, prev = [], {}, None
    for k, row in enumerate(rows):
        kind, line = good_json_line(row, rng, 10 < k < len(rows) - 3 and rng.random() < 0.05)
        made[kind] = made.get(kind, 0) + 1
        lines.append(line)
        if 10 < k < len(rows) - 3 and rng.random() < rate:
            for bad_kind, bad in bad_json_lines(row, prev, rng, t0, tick):
                made[bad_kind] = made.get(bad_kind, 0) + 1
                lines.append(bad)
        prev = row
    return lines, made


def csv_line(row: dict) -> bytes:
    return f"{row['ts']},{row['a']},{row['b']},{row['c']}".encode()


CSV_BAD = {
    "wrong column count": lambda r, p, rng: b"%r,1.0,2.0" % r["ts"],
    "text": lambda r, p, rng: b"%r,abc,%r,%r" % (r["ts"], r["b"], r["c"]),
    "nan": lambda r, p, rng: b"%r,nan,inf,-inf" % r["ts"],
    "huge": lambda r, p, rng: b"%r,1e300,-1e300,1e999" % r["ts"],
    "bad ts": lambda r, p, rng: rng.choice([b"yesterday", b"", b"2026-13-45T99:00:00Z", b"nan"]) + b",1,2,3",
    "far future": lambda r, p, rng: b"%r,1,2,3" % (r["ts"] + 86400 * 365 * 100),
    "far past": lambda r, p, rng: b"0,1,2,3",
    "out of order": lambda r, p, rng: b"%r,1,2,3" % ((p or r)["ts"] - 5),
    "duplicate": lambda r, p, rng: csv_line(r),
    "ten MB": lambda r, p, rng: b"%r,%s,2,3" % (r["ts"], b"1" * TEN_MB),
    "invalid utf-8": lambda r, p, rng: b"%r,\xff\xfe,2,3" % r["ts"],
    "binary": lambda r, p, rng: bytes(rng.getrandbits(8) for _ in range(40)).replace(b"\n", b" ").replace(b"\r", b" "),
    "quoted newline": lambda r, p, rng: b'%r,"1\n2",3,4' % r["ts"],
    "nul": lambda r, p, rng: b"%r,1\x002,3,4" % r["ts"],
}


def dirty_csv(rows: list[dict], rng: random.Random, rate: float) -> tuple[list[bytes], dict]:
    """The CSV recording with a BOM, CRLF line ends and bad rows after some good ones."""
    lines, made, prev = [b"\xef\xbb\xbftimestamp,a,b,c"], {}, None
    for k, row in enumerate(rows):
        lines.append(csv_line(row))
        if 10 < k < len(rows) - 3 and rng.random() < rate:
            kind = rng.choice(sorted(CSV_BAD))
            made[kind] = made.get(kind, 0) + 1
            lines.append(CSV_BAD[kind](row, prev, rng))
        prev = row
    return [line + b"\r" for line in lines], made


def run_records(work: Path, source: str, lines: list[bytes], tick: float, fmt: str) -> dict:
    """The agent fed `lines` through `source` (stdin, udp, replay); its exit, summary, alerts and reject lines."""
    work.mkdir(parents=True)
    carry = 3 * tick
    if source == "replay":
        rec = work / f"rec.{fmt}"
        rec.write_bytes(b"\n".join(lines) + b"\n")
        src = f"{{type: replay, path: {rec.name}}}"
    elif source == "udp":
        port = free_port()
        src = f"{{type: udp, port: {port}, max_datagram: 65507}}"
    else:
        src = "{type: stdin, max_line_bytes: 1048576}"
    (work / "agent.yaml").write_text(RECORD_CONFIG.format(tick=tick, source=src, carry=carry))
    err = open(work / "err.txt", "w")
    proc = subprocess.Popen(agent_cmd("run", "-c", "agent.yaml"), cwd=work, env=agent_env(), stdout=subprocess.DEVNULL,
                            stderr=err, stdin=subprocess.PIPE, start_new_session=True)
    sent = len(lines)
    try:
        if source == "stdin":
            for line in lines:
                proc.stdin.write(line + b"\n")
            proc.stdin.close()
        elif source == "udp":
            deadline = time.monotonic() + 60
            while "  sink: " not in (work / "err.txt").read_text(errors="replace"):
                assert time.monotonic() < deadline, "no banner"
                time.sleep(0.1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                sent = 0
                for line in lines:
                    if len(line) > 65507:           # the kernel refuses it: a datagram cannot be that long
                        continue
                    s.sendto(line, ("127.0.0.1", port))
                    sent += 1
                    time.sleep(0.0005)
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
        else:
            proc.stdin.close()
        proc.wait(timeout=PROCESS_TIMEOUT_S)
    except (subprocess.TimeoutExpired, BrokenPipeError, AssertionError) as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        err.close()
        return {"code": None, "crash": f"{type(exc).__name__}: {exc}", "text": (work / "err.txt").read_text()[-2000:]}
    err.close()
    text = (work / "err.txt").read_text(errors="replace")
    m = re.search(r"summary: (\d+) ticks, (\d+) records in, rejected (\d+)(?: \(([^)]*)\))?", text)
    reasons = {}
    for part in (m.group(4).split(", ") if m and m.group(4) else []):
        reason, _, count = part.rpartition(": ")
        reasons[reason.strip()] = int(count) if count.isdigit() else count
    alerts = []
    if (work / "alerts.jsonl").exists():
        for line in (work / "alerts.jsonl").read_text().splitlines():
            ev = json.loads(line)
            if ev.get("kind", "alert") == "alert" or "event" in ev:
                alerts.append({k: ev.get(k) for k in ("event", "start", "end", "sensors") if k in ev})
    return {"code": proc.returncode, "crash": text[text.index("Traceback"):][-2000:] if "Traceback" in text else None,
            "ticks": int(m.group(1)) if m else None, "records": int(m.group(2)) if m else None,
            "rejected": int(m.group(3)) if m else None, "reasons": reasons, "alerts": alerts, "sent": sent,
            "reject_lines": [line.split("stad.input: ", 1)[1][:160] for line in text.splitlines()
                             if "stad.input: rejected" in line][:40], "max_line_len": max(map(len, text.splitlines() or [""]))}


def fuzz_records(seed: int, root: Path, sources: list[str]) -> dict:
    from agent.records import REJECT_REASONS
    out, problems_found = {}, []
    for source in sources:
        rng = random.Random(seed)
        if source == "csv":
            rows = clean_rows(1_767_600_000.0, 1.0)
            clean = run_records(root / f"csv-clean-{seed}", "replay", [b"timestamp,a,b,c"] + [csv_line(r) for r in rows],
                                1.0, "csv")
            lines, made = dirty_csv(rows, rng, 0.25)
            dirty = run_records(root / f"csv-dirty-{seed}", "replay", lines, 1.0, "csv")
            found = [f"{n}: crash {r['crash'][-600:]}" for n, r in (("clean", clean), ("dirty", dirty)) if r["crash"]]
            found += [f"{n}: exit {r['code']}" for n, r in (("clean", clean), ("dirty", dirty))
                      if not r["crash"] and r["code"] != 0]
            if not found:
                if clean["rejected"]:
                    found.append(f"clean run rejected {clean['rejected']}: {clean['reasons']}")
                if dirty["rejected"] < sum(made.values()):
                    found.append(f"rejected {dirty['rejected']} < bad rows {sum(made.values())}: {dirty['reasons']} "
                                 f"vs made {made}")
                if set(dirty["reasons"]) - set(REJECT_REASONS):
                    found.append(f"reasons outside REJECT_REASONS: {set(dirty['reasons']) - set(REJECT_REASONS)}")
                if dirty["alerts"] != clean["alerts"]:
                    found.append(f"alerts differ: clean {clean['alerts']} dirty {dirty['alerts']}")
                if dirty["max_line_len"] > 2000:
                    found.append(f"a log line of {dirty['max_line_len']} characters")
            out[source] = {"made": made, "bad_rows": sum(made.values()),
                           "dirty": {k: dirty.get(k) for k in ("ticks", "records", "rejected", "reasons")},
                           "alerts_clean": len(clean.get("alerts") or []), "alerts_dirty": len(dirty.get("alerts") or []),
                           "problems": found, "first_rejects": dirty.get("reject_lines", [])[:8]}
            problems_found += [f"{source}: {p}" for p in found]
            continue
        live = source in ("stdin", "udp")
        tick = 0.05 if live else 1.0
        t0 = round(time.time() - 400 * tick - 5, 3) if live else 1_767_600_000.0
        rows = clean_rows(t0, tick)
        clean_lines = [json.dumps(r).encode() for r in rows]
        clean = run_records(root / f"{source}-clean-{seed}", source, clean_lines, tick, "jsonl")
        if live:            # the dirty run's stamps are now's too
            t0 = round(time.time() - 400 * tick - 5, 3)
            rows = clean_rows(t0, tick)
            clean_lines = [json.dumps(r).encode() for r in rows]
            clean = run_records(root / f"{source}-clean2-{seed}", source, clean_lines, tick, "jsonl")
        lines, made = dirty_stream(rows, rng, t0, tick, 0.25)
        dirty = run_records(root / f"{source}-dirty-{seed}", source, lines, tick, "jsonl")
        bad = sum(v for k, v in made.items() if k not in ("good", "bom", "crlf"))
        if source == "udp":         # a line longer than a datagram can be is not sent
            bad -= sum(len(line) > 65507 for line in lines)
        found = []
        for name, res in (("clean", clean), ("dirty", dirty)):
            if res["crash"]:
                found.append(f"{name}: crash {res['crash'][-600:]}")
            elif res["code"] != 0:
                found.append(f"{name}: exit {res['code']}")
        dropped = dirty["reasons"].get("kernel drop", 0) + (clean.get("reasons") or {}).get("kernel drop", 0) \
            if not found else 0
        if dropped:         # the kernel's socket buffer overflowed (a busy machine): counted, but no like-for-like
            out[source] = {"made": made, "void": f"the kernel dropped {dropped} datagram(s): no comparison",
                           "dirty": {k: dirty.get(k) for k in ("ticks", "records", "rejected", "reasons")}}
            continue
        if not found:
            if clean["rejected"] and not live:
                found.append(f"clean run rejected {clean['rejected']}: {clean['reasons']}")
            if dirty["rejected"] - (clean["rejected"] or 0) != bad:
                found.append(f"rejected {dirty['rejected']} (clean {clean['rejected']}), bad lines {bad}: "
                             f"{dirty['reasons']} vs made {made}")
            unknown = set(dirty["reasons"]) - set(REJECT_REASONS)
            if unknown:
                found.append(f"reasons outside REJECT_REASONS: {unknown}")
            if not live and dirty["alerts"] != clean["alerts"]:
                found.append(f"alerts differ: clean {clean['alerts']} dirty {dirty['alerts']}")
            if live and [a["event"] for a in dirty["alerts"]] != [a["event"] for a in clean["alerts"]]:
                found.append(f"alert events differ: clean {clean['alerts']} dirty {dirty['alerts']}")
            if dirty["max_line_len"] > 2000:
                found.append(f"a log line of {dirty['max_line_len']} characters")
        out[source] = {"made": made, "bad_lines": bad, "clean": {k: clean.get(k) for k in ("ticks", "records", "rejected", "alerts")},
                       "dirty": {k: dirty.get(k) for k in ("ticks", "records", "rejected", "reasons")},
                       "alerts_clean": len(clean.get("alerts") or []), "alerts_dirty": len(dirty.get("alerts") or []),
                       "problems": found, "first_rejects": dirty.get("reject_lines", [])[:8]}
        problems_found += [f"{source}: {p}" for p in found]
    return {"seed": seed, "sources": out, "problems": problems_found}


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["config", "records", "manifest", "both"], default="both",
                    help="both: config and records (manifest: the builtin bundle's manifest, key by key)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutants", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--base", default=None, help="mutate this base only (replay, bundle, live, or a shipped config's "
                                                  "name: demo, skab, …)")
    ap.add_argument("--sources", default="stdin,udp,replay,csv")
    args = ap.parse_args(argv)
    result = {"bench": "fuzz_front", "machine": machine_info(), "load": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="fuzz-front-") as d:
        root = Path(d)
        if args.part in ("config", "both"):
            result["config"] = fuzz_config(args.seed, args.mutants, args.jobs, root / "config", args.base)
        if args.part == "manifest":
            result["manifest"] = fuzz_manifest(args.jobs, root / "manifest")
        if args.part in ("records", "both"):
            result["records"] = fuzz_records(args.seed, root / "records", args.sources.split(","))
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1, default=str))
    bad = (result.get("config", {}).get("mismatches") or result.get("config", {}).get("crashes")
           or result.get("manifest", {}).get("mismatches") or result.get("manifest", {}).get("crashes")
           or result.get("records", {}).get("problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
