"""chaos7's left items (the chaos8 round), the real agent on real files and a real standard input:
- stdin and the replay read a byte that is not UTF-8 as U+FFFD and carried on: `unknown sensor '��c'`, `not a number:
  '1�5'`, the byte unsaid. Now such a line is `bad payload — not UTF-8: byte 0xff at byte N of the line …`, by
  file/line, as the UDP and MQTT sources say it; the lines around it are read as before;
- Python's number syntax was read where no sender writes it: `1_000` as 1000 and full-width `１２` as 12 (float()
  takes underscores and every script's digits). Now one rule (lines.parse_number): ASCII decimal, with `nan`/`inf`
  as numpy and printf write them; the reject says what was written and why, by field;
- a CSV header again mid-file longer than the line bound (1 MiB) was read past and the rows after it read by the
  header before it: another recording's columns read as this one's. Now it is said as a header again and the rows
  after it are skipped up to the next header the replay can read, counted with the header."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import REPO, agent_env
from agent.sources.replay_lines import MAX_LINE_CHARS


def _agent(tmp_path: Path, source: dict, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a", "b"], "sources": [source],
        "window": {"steps": 8}, "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}))
    return subprocess.run([sys.executable, "-m", "agent", *args, "-c", str(config)], cwd=REPO, env=agent_env(),
                          input=stdin, capture_output=True, timeout=300)


def _rejected(stderr: str, where: str) -> list[str]:
    return [line.split(f"rejected {where}: ", 1)[1] for line in stderr.splitlines() if f"rejected {where}: " in line]


def _json_lines(t0: int) -> bytes:
    clean = b"".join(b'{"ts": %d, "a": %d, "b": 1}\n' % (t0 + k, k % 3) for k in range(20))
    return (clean + b'{"ts": %d, "\xff\xfec": 1, "a": 2}\n' % (t0 + 20) + b'{"ts": %d, "a": "1\xff5"}\n' % (t0 + 21)
            + '{"ts": %d, "a": "1_000", "b": "１２"}\n'.encode() % (t0 + 22) + b'{"ts": %d, "a": 3}\n' % (t0 + 23))


def _said_of_json_lines(stderr: str, name: str, hint: str = "the file's text encoding? save it as UTF-8") -> None:
    assert _rejected(stderr, f"{name}:21") == [
        f"bad payload — not UTF-8: byte 0xff at byte 21 of the line ({hint}); the line is skipped"], stderr[-3000:]
    assert _rejected(stderr, f"{name}:22") == [
        f"bad payload — not UTF-8: byte 0xff at byte 27 of the line ({hint}); the line is skipped"], stderr[-3000:]
    said = _rejected(stderr, f"{name}:23")
    assert said == ["bad number — field 'a': not a number: '1_000' (an underscore: write the digits alone, 1000); "
                    "field 'b': not a number: '１２' (digits other than 0–9)"], stderr[-3000:]
    assert "\ufffd" not in stderr and "unknown sensor" not in stderr, stderr[-3000:]


def test_stdin_says_a_line_not_utf8_and_pythons_numbers_by_line_and_field(tmp_path):
    done = _agent(tmp_path, {"type": "stdin"}, "run", stdin=_json_lines(int(time.time()) - 30))
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr[-3000:]
    _said_of_json_lines(stderr, "stdin", "the sender's text encoding? send UTF-8")
    summary = stderr.strip().splitlines()[-1]
    assert "21 records in" in summary and "bad payload: 2" in summary and "bad number: 1" in summary, summary


def test_a_jsonl_replay_says_them_the_same(tmp_path):
    (tmp_path / "r.jsonl").write_bytes(_json_lines(int(time.time()) - 3600))
    done = _agent(tmp_path, {"type": "replay", "path": str(tmp_path / "r.jsonl")}, "run")
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr[-3000:]
    _said_of_json_lines(stderr, "r.jsonl")


def test_a_csv_replay_says_a_row_not_utf8_and_pythons_numbers_by_cell(tmp_path):
    t0 = int(time.time()) - 3600
    rows = [b"%d,%d,1" % (t0 + k, k % 3) for k in range(20)]
    rows += [b"%d,1\xff5,2" % (t0 + 20), "%d,1_000,１２".encode() % (t0 + 21), b"%d, 1e5 ,-inf" % (t0 + 22),
             b"%d,0x10,nan" % (t0 + 23), b"%d,4,4" % (t0 + 24)]
    (tmp_path / "r.csv").write_bytes(b"timestamp,a,b\n" + b"\n".join(rows) + b"\n")
    done = _agent(tmp_path, {"type": "replay", "path": str(tmp_path / "r.csv")}, "run")
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr[-3000:]
    assert _rejected(stderr, "r.csv:22") == [
        "bad payload — not UTF-8: byte 0xff at byte 13 of the line (the file's text encoding? save it as UTF-8); "
        "the line is skipped"], stderr[-3000:]
    assert _rejected(stderr, "r.csv:23") == [
        "bad number — field 'a': not a number: '1_000' (an underscore: write the digits alone, 1000); "
        "field 'b': not a number: '１２' (digits other than 0–9)"], stderr[-3000:]
    assert _rejected(stderr, "r.csv:24") == ["non-finite value — sensor 'b' value -inf"]     # ` 1e5 ` is read
    assert _rejected(stderr, "r.csv:25") == [
        "bad number — field 'a': not a number: '0x10' (hexadecimal: write it in decimal)",
        "non-finite value — sensor 'b' value nan"], stderr[-3000:]
    summary = stderr.strip().splitlines()[-1]
    assert "23 records in" in summary and "bad payload: 1" in summary, summary
    assert "\ufffd" not in stderr, stderr[-3000:]


def test_a_header_again_past_the_line_bound_skips_its_rows_saying_so(tmp_path):
    t0 = int(time.time()) - 3600
    wide = ",".join(["timestamp", "b", "a"] + [f"tag{i:06d}" for i in range(MAX_LINE_CHARS // 9)])
    first = "".join(f"{t0 + k},{k % 3},1\n" for k in range(30))
    joined = "".join(f"{t0 + 30 + k},{k % 5},9" + ",0" * (MAX_LINE_CHARS // 9) + "\n" for k in range(3))
    after = "timestamp,a,b\n" + "".join(f"{t0 + 40 + k},{k % 3},1\n" for k in range(10))
    (tmp_path / "r.csv").write_text("timestamp,a,b\n" + first + wide + "\n" + joined + after)
    done = _agent(tmp_path, {"type": "replay", "path": str(tmp_path / "r.csv")}, "run")
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr[-3000:]
    said = _rejected(stderr, "r.csv:32")
    assert len(said) == 1 and said[0].startswith(
        "line too long — a header again ('timestamp,b,a,tag000000,…') past 1,048,576 characters"), stderr[-3000:]
    assert "the rows after it are skipped up to the next header" in said[0], said
    assert "wrong column count" not in stderr, stderr[-3000:]       # its rows were read by the first header
    summary = stderr.strip().splitlines()[-1]
    assert "40 records in" in summary and "line too long: 1" in summary, summary
