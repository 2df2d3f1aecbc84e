"""A reject said in the line's terms, not Python's (the chaos6 round's read of every reject the record fuzz draws:
bench/fuzz_reasons.py). Before, through stdin and a JSON-lines replay alike:
- a line `null` was "expected an object, got NoneType" (`[1]`: "got list");
- an array nested 100 000 deep, "maximum recursion depth exceeded while decoding a JSON array from a unicode string";
- a cut line, "Expecting ',' delimiter: line 1 column 27 (char 26)" — a "line 1" of a record at stdin:4 (a replay's
  line cut short: "line 2 column 1", its own newline);
- `"ts": null`, "not a time: None"; `"ts": "2026-02-30T00:00:00Z"`, "day is out of range for month" (which stamp
  unsaid); `"ts": "yesterday"`, "Invalid isoformat string";
- `"a": "1,5"`, "could not convert string to float: '1,5'".
The real agent on its stdin; and the reasons fuzz itself, one seed (every reject of its draws judged)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import yaml

from conftest import REPO, agent_env


def test_bad_lines_are_said_in_the_lines_terms(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a"], "sources": [{"type": "stdin"}], "window": {"steps": 8}, "warmup": {"ticks": 50},
        "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": str(tmp_path / "state")}))
    now = int(time.time())
    bad = {"null": "null", "[1]": "[1]", "deep": '{"ts": 1, "values": ' + "[" * 100_000 + "]" * 100_000 + "}",
           "cut": '{"ts": %d, "a": 1 "b": 2}' % now, "ts null": json.dumps({"ts": None, "a": 1}),
           "feb 30": json.dumps({"ts": "2026-02-30T00:00:00Z", "a": 1}),
           "yesterday": json.dumps({"ts": "yesterday", "a": 1}), "comma": json.dumps({"ts": now, "a": "1,5"}),
           "cut short": '{"ts": %d, "a": 1' % now}
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, env=agent_env(),
                          input="\n".join(bad.values()) + "\n", text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    said = {name: next((line for line in done.stderr.splitlines() if f"rejected stdin:{n}:" in line), "")
            for n, name in enumerate(bad, 1)}
    assert "bad json — a line is one JSON object" in said["null"] and said["null"].endswith("this one is null")
    assert said["[1]"].endswith("this one is an array")
    assert "bad json — nested too deep" in said["deep"] and "recursion" not in said["deep"]
    assert "Expecting ',' delimiter at character 27 of the line" in said["cut"] and "line 1" not in said["cut"]
    assert said["cut short"].endswith("bad json — Expecting ',' delimiter at the line's end (cut short?)")
    assert said["ts null"].endswith("bad time — field 'ts': not a time: null")
    assert "field 'ts': '2026-02-30T00:00:00Z': day is out of range for month" in said["feb 30"]
    assert "field 'ts': neither a number nor an ISO-8601 time such as 2026-01-05T06:00:00Z: 'yesterday'" \
        in said["yesterday"]
    assert "field 'a': not a number: '1,5' (a decimal comma? write a point)" in said["comma"]
    for line in said.values():
        assert not any(w in line for w in ("NoneType", "could not convert", "Invalid isoformat", "char ")), line


def test_the_reasons_fuzz_finds_every_reject_said_with_its_place_and_field():
    res = subprocess.run([sys.executable, str(REPO / "bench" / "fuzz_reasons.py"), "--seeds", "91"], cwd=REPO,
                         env=agent_env(), capture_output=True, text=True, timeout=600)
    out = json.loads(res.stdout)
    assert res.returncode == 0 and out["wanting"] == [], out["wanting"][:5]
    assert {"stdin", "jsonl", "csv"} <= set(out["reasons"])
    assert sum(r["count"] for rs in out["reasons"].values() for r in rs) > 300      # the fuzz drew its bad lines
