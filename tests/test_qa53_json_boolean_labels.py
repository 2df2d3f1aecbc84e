"""qa53 (qa52's left item): a JSON-lines recording labelled as JSON writes a flag, `"label": true` / `false`.

On 7279aaa8 each was a `bad label` (said once as "words", with "write the field as 0/1"), and the recording was
unlabelled to all three readers: the replay's records had no label, `stad-agent evaluate` skipped the file `(no
labels)`, and training learnt its anomalous rows as normal running. What a user means is plain — true is an anomaly,
as 1 is — and it is one rule (agent/label_names.py JSON_LABELS, read by sources/lines.py for every JSON line), so the
three agree: the real `stad-agent evaluate`, and the converter's own reading of the recording for training."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import REPO, agent_env

T0 = 1_767_225_600
ANOMALOUS = range(400, 430)


def recording(path) -> None:
    lines = [json.dumps({"ts": T0 + k, "a": (k * 7) % 11 / 10 + (5.0 if k in ANOMALOUS else 0.0),
                         "b": (k * 5) % 13 / 10, "label": k in ANOMALOUS}) for k in range(600)]
    path.write_text("\n".join(lines) + "\n")


def config(tmp_path) -> dict:
    folder = tmp_path / "labelled"
    folder.mkdir()
    recording(folder / "r1.jsonl")
    return {"sensors": ["a", "b"], "tick_s": 1, "window": {"steps": 8}, "warmup": {"ticks": 200}, "sinks": [],
            "state_dir": str(tmp_path / "state"), "sources": [{"type": "replay", "path": str(folder)}]}


def test_evaluate_reads_json_true_false_as_the_label(tmp_path):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump(config(tmp_path)))
    report = tmp_path / "report.json"
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(cfg), "--report", str(report),
                          "--scorer", "numpy"], capture_output=True, text=True, cwd=REPO, env=agent_env(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    # on 7279aaa8: "r1.jsonl: label field 'label' holds words, not numbers ('false' on 570 rows, 'true' on 30 rows)"
    # and "r1.jsonl (no labels: …)"
    assert "bad label" not in res.stderr and "holds words" not in res.stderr, res.stderr[-3000:]
    assert "no labels" not in res.stderr, res.stderr[-3000:]
    assert "r1.jsonl" in report.read_text(), report.read_text()[:2000]


def test_training_reads_json_true_as_anomalous_rows(tmp_path):
    from agent.config import from_dict
    from convert.data import read_series, training_sources
    cfg = from_dict(config(tmp_path))
    series = read_series(cfg, training_sources(cfg))
    # the rows labelled true are left out of the targets (convert/data.py row_labels); on 7279aaa8: none
    assert int(series.anomalous.sum()) == len(ANOMALOUS), int(series.anomalous.sum())
