"""bench/fuzz_front.py --part records: bad lines between good ones, through each source that reads lines.

Part `records`. One clean stream (3 sensors, a spike that alerts) is fed through stdin, udp, a JSONL replay and a
CSV replay, then the same stream with bad lines between the good ones: malformed JSON, NaN / inf / 1e999, strings
for numbers, 1e300, far-future and far-past and duplicate and out-of-order stamps, unknown sensors, a 10 MB line,
invalid UTF-8, Python's number syntax (`1_000`, `１２`: chaos8), a key twice in one object, stamps at a float's and
the calendar's edges (5e-324, -0.0, the largest double, 2**53 + 1, 9999-12-31, an offset of +99:00), and the good
lines themselves with a BOM or CRLF; in the CSV, the header again mid-file with its columns in another order, the
rows after it written in that order (two recordings joined; chaos5: its rows were read by the first header's columns,
unsaid). Each bad line touches a (tick, sensor)
whose good reading came before it, so that whatever the agent does with it, the clean run's alerts must come out unchanged:
exit 0, no traceback, every alert event the same, every bad line counted as rejected under a reason of
agent/records.py REJECT_REASONS, and each reason's first lines named with the file:line or source.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_processes import PROCESS_TIMEOUT_S, agent_cmd, agent_env, free_port  # noqa: E402


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
        # chaos5: what the generator never drew before
        "duplicate key": lambda: b'{"ts": %r, "%s": 1.0, "%s": 2.0}' % (ts, s.encode(), s.encode()),
        "float edge ts": lambda: b'{"ts": %s, "%s": 1.0}' % (rng.choice(EDGE_STAMPS), s.encode()),
        "iso edge ts": lambda: json.dumps({"ts": rng.choice(ISO_EDGES), s: 1.0}).encode(),
        # chaos8: Python's number syntax (float() read `1_000` and `１２`), a byte not UTF-8 inside a number
        "python number": lambda: json.dumps({"ts": ts, s: rng.choice(PYTHON_NUMBERS)}, ensure_ascii=False).encode(),
        "latin-1 number": lambda: b'{"ts": %r, "%s": "1\xb75"}' % (ts, s.encode()),
    }
    kind = rng.choice(sorted(kinds))
    return [(kind, kinds[kind]())]


#: Numbers as Python's float() reads them and no sender writes them (chaos8), and `infinity` (read, not finite)
PYTHON_NUMBERS = ["1_000", "１２", "0x10", "1_0.5", "infinity", "\u0661\u0662"]
#: Stamps at a float's edges (chaos5): the smallest subnormal, minus zero, the largest double, 2**53 + 1 (no double),
#: an integer past any double, a stamp in the far future by 1e-10 s steps.
EDGE_STAMPS = [b"5e-324", b"-0.0", b"1.7976931348623157e308", b"-1.7976931348623157e308", b"9007199254740993",
               b"1" + b"0" * 400, b"4102444800.0000000001"]
#: ISO-8601 stamps at the calendar's edges and an offset no zone has.
ISO_EDGES = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "2026-01-05T08:00:00+99:00", "2026-02-30T00:00:00Z",
             "2026-01-05T24:00:00Z", "1969-12-31T23:59:59.999999Z"]


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
    "python number": lambda r, p, rng: ("%r,%s,%s,0x10" % (r["ts"], *rng.sample(PYTHON_NUMBERS, 2))).encode(),
}


def dirty_csv(rows: list[dict], rng: random.Random, rate: float) -> tuple[list[bytes], dict]:
    """The CSV recording with a BOM, CRLF line ends and bad rows after some good ones; and (chaos5) the header again
    mid-file, its columns in another order, with the good rows after it written in that order, then the first
    header back (two recordings joined): no bad row, so counted apart (`REHEADERS`), and the alerts unchanged."""
    lines, made, prev, order = [b"\xef\xbb\xbftimestamp,a,b,c"], {}, None, None
    for k, row in enumerate(rows):
        if order is None and 10 < k < len(rows) - 10 and rng.random() < 0.03:
            order = rng.choice([["c", "b", "a"], ["b", "a", "c"], ["c", "a", "b"]])
            lines.append(rng.choice([b"", b"\xef\xbb\xbf"]) + ("timestamp," + ",".join(order)).encode())   # a BOM too
            made["header again"] = made.get("header again", 0) + 1
            left = rng.randint(1, 8)
        if order is not None:
            lines.append(",".join([repr(row["ts"]), *(repr(row[c]) for c in order)]).encode())
            left -= 1
            if left == 0:
                lines.append(b"timestamp,a,b,c")
                order = None
            prev = row
            continue
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
                             if "stad.input: rejected" in line][:40], "max_line_len": max(map(len, text.splitlines() or [""])),
            # a reject that reads a byte not UTF-8 as U+FFFD says nothing of the byte (chaos8: stdin and the replay did)
            "replaced": [line[:160] for line in text.splitlines()
                         if "stad.input: rejected" in line and "\ufffd" in line]}


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
            reheaders = made.pop("header again", 0)
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
                if dirty["replaced"]:
                    found.append(f"a byte not UTF-8 read as U+FFFD: {dirty['replaced'][:3]}")
            out[source] = {"made": made, "bad_rows": sum(made.values()), "headers_again": reheaders,
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
            if dirty["replaced"]:
                found.append(f"a byte not UTF-8 read as U+FFFD: {dirty['replaced'][:3]}")
        out[source] = {"made": made, "bad_lines": bad, "clean": {k: clean.get(k) for k in ("ticks", "records", "rejected", "alerts")},
                       "dirty": {k: dirty.get(k) for k in ("ticks", "records", "rejected", "reasons")},
                       "alerts_clean": len(clean.get("alerts") or []), "alerts_dirty": len(dirty.get("alerts") or []),
                       "problems": found, "first_rejects": dirty.get("reject_lines", [])[:8]}
        problems_found += [f"{source}: {p}" for p in found]
    return {"seed": seed, "sources": out, "problems": problems_found}
