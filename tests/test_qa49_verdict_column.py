"""A recording's column named `verdict` (qa49): training said nothing of it, its marked rows trained on as normal.

`stad-convert train` says a column that looks like a label and is not in `label_columns` (review21, chaos7): its
name holds a label stem (`anomaly`, `label`, `fault`, …) and its cells are 0/1 or label words. `verdict` — the word
stad-agent's own operator feedback uses (agent/feedback.py) — was no stem, and `confirmed`, its verdict for a real
anomaly, no label word: a recording with the operators' verdicts joined to it trained its confirmed anomalies as
normal running, unsaid. Now both are said, the verdict words with what to write. The real CLI on real files.
"""
from __future__ import annotations

import numpy as np
import yaml

from conftest import convert_in_process

T0 = 1_767_225_600
N = 1200
# The smallest model the convert tests train (tests/test_chaos7_training_columns.py), on its readings
TINY = ["--epochs", "3", "--d-model", "8", "--heads", "2", "--ff-hidden", "8", "--windows-per-epoch", "256",
        "--threads", "1", "--no-export", "--quiet"]


def recording(column: str, cell) -> str:
    rng = np.random.default_rng(7)
    i = np.arange(N)
    a = np.sin(i * 1.1) + 0.05 * rng.standard_normal(N)
    b = np.cos(i * 0.7) + 0.05 * rng.standard_normal(N)
    rows = [f"timestamp,a,b,{column}"] + [f"{T0 + k},{a[k]:.4f},{b[k]:.4f},{cell(k)}" for k in range(N)]
    return "\n".join(rows) + "\n"


def test_a_verdict_column_of_0_1_and_one_of_feedback_words_are_said(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "r01.csv").write_text(recording("verdict", lambda k: 1 if 500 <= k < 600 else 0))
    words = lambda k: "confirmed" if 500 <= k < 600 else "false_alarm" if 700 <= k < 720 else ""
    (folder / "r02.csv").write_text(recording("operator_verdict", words))
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "topology": "none", "sinks": [],
                                   "sources": [{"type": "replay", "path": str(folder)}],
                                   "window": {"steps": 8, "carry_forward_s": 3}, "warmup": {"ticks": 50}}))
    proc = convert_in_process(capsys, "train", "-c", str(cfg), "-o", str(tmp_path / "b"), *TINY)     # main, here
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    said = [line for line in proc.stderr.splitlines() if "looks like a label" in line]
    # On ad79f86d: nothing said of either column.
    assert len(said) == 2, proc.stderr[-3000:]
    assert any("column 'verdict' looks like a label (0/1; 1 on 100 of" in line and "in r01.csv" in line
               and "add label_columns: [verdict]" in line for line in said), said
    assert any("column 'operator_verdict' looks like a label written as text ('confirmed' on 100 rows, 'false_alarm' "
               "on 20 rows; in r02.csv)" in line and "its words are stad-agent's feedback verdicts: 1 on the "
               "'confirmed' rows, 0 on the others" in line for line in said), said
