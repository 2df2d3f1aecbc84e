"""One reason per bad record (QA pass 8): a JSON line or CSV row whose readings are all bad numbers
was counted twice, as "bad number" and as "no values", in the rejects, the `summary:` line and
health. Checked through `stad-agent run` on a real replay file."""
import json
import subprocess
import sys
from pathlib import Path

import yaml

from agent.records import Rejects
from agent.sources.lines import parse_json_line

REPO = Path(__file__).resolve().parent.parent
T0 = 1767571200          # 2026-01-05T00:00:00Z


def test_a_line_of_bad_numbers_counts_once():
    rejects = Rejects()
    assert parse_json_line(json.dumps({"ts": T0, "a": "x"}), "f:1", rejects) is None
    assert parse_json_line(json.dumps({"ts": T0, "a": "x", "b": "y"}), "f:2", rejects) is None
    kept = parse_json_line(json.dumps({"ts": T0, "a": "x", "b": 2}), "f:3", rejects)
    assert kept is not None and kept.values == {"b": 2.0}
    assert parse_json_line(json.dumps({"ts": T0}), "f:4", rejects) is None
    assert parse_json_line(json.dumps({"ts": T0, "a": "x", "label": "?"}), "f:5", rejects) is None   # not also "bad label"
    labelled = parse_json_line(json.dumps({"ts": T0, "a": 1, "label": "?"}), "f:6", rejects)
    assert labelled is not None and labelled.label is None
    assert rejects.as_dict() == {"bad number": 4, "no values": 1, "bad label": 1}


def test_run_summary_counts_each_bad_record_once(tmp_path):
    lines = [json.dumps({"ts": T0 + i, "a": 1.0 + 0.01 * i, "b": 2.0}) for i in range(60)]
    lines[10] = json.dumps({"ts": T0 + 10, "a": "1,5", "b": 2.0})      # one bad reading, the line kept
    lines[20] = json.dumps({"ts": T0 + 20, "a": "high"})                # its only reading bad: rejected
    lines[30] = json.dumps({"ts": T0 + 30, "a": "nan?", "b": "?"})      # both bad: rejected, once
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text("\n".join(lines) + "\n")
    csv = ["timestamp,a,b"] + [f"{T0 + 100 + i},{1.0 + 0.01 * i},2.0" for i in range(20)]
    csv[5] = f"{T0 + 104},abc,def"                                      # every cell bad: once
    (tmp_path / "data" / "y.csv").write_text("\n".join(csv) + "\n")
    cfg = {"node": {"id": "qa", "site": "lab"}, "tick_s": 1, "sensors": ["a", "b"],
           # one replay of the folder: two sources would race, and y.csv read first makes x.jsonl's rows 'late'
           "sources": [{"type": "replay", "path": str(tmp_path / "data")}],
           "window": {"steps": 8}, "warmup": {"ticks": 20}, "scoring": {"chain": ["numpy"]},
           "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, text=True,
                         capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = next(line for line in res.stderr.splitlines() if "summary:" in line)
    assert "rejected 4 (bad number: 4)" in summary, summary
    assert "no values" not in res.stderr
