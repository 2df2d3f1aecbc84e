"""A `verdict` label column in `stad-agent evaluate` (qa51: the two items qa49 left), the real CLI on real files.

- evaluate's guess of the label column knew two stems of its own (`anomal`, `label`); training's scan knows `verdict`
  since qa49 (stad-agent's operator feedback names its word so). One list now, agent/label_names.py, for both. The
  suggestions tests pin are kept: SKAB's `anomaly` beside its `changepoint` (tests/test_user12_first_week.py,
  test_qa30_messages.py) — the list is ordered by how surely a name marks the truth, `changepoint` last.
- `label_columns: [verdict]` whose cells are the feedback's words (`confirmed`, `false_alarm`): every row was a
  `bad label`, the first five said as such, then counted, the file skipped "no labels" — nothing said why nor what to
  write. The replay now says it once per column, with the words and what to write, and evaluate's skip says why.
"""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import REPO, agent_env

T0 = 1_767_225_600


def day(path, header: str, verdict) -> None:
    rows = [f"{T0 + k},{(k * 7) % 11 / 10:.2f},{(k * 5) % 13 / 10:.2f},{verdict(k)}" for k in range(600)]
    path.write_text("\n".join([header, *rows]) + "\n")


def evaluate(cfg_path, data=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(cfg_path),
                           *(["--data", str(data)] if data else [])],
                          capture_output=True, text=True, cwd=REPO, env=agent_env(), timeout=300)


def test_evaluate_suggests_a_verdict_column_among_others(tmp_path):
    # On fa8372e0: `label_columns: [LABEL]` — two columns besides the sensors, neither named by evaluate's two stems.
    data = tmp_path / "today.csv"
    day(data, "timestamp,a,b,note,verdict", lambda k: "confirmed" if 400 <= k < 420 else "")
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "sources": [{"type": "udp", "port": 0}],
                                   "window": {"steps": 8}, "warmup": {"ticks": 50}, "sinks": [],
                                   "state_dir": str(tmp_path / "state")}))
    res = evaluate(cfg, data)
    assert res.returncode == 2, res.stderr[-2000:]
    suggested = yaml.safe_load(res.stderr.split("whose sources are ", 1)[1].split(" (label_columns:", 1)[0])
    assert suggested[0]["label_columns"] == ["verdict"], res.stderr[-2000:]
    assert "its columns besides the time and the sensors': note, verdict)" in res.stderr, res.stderr[-2000:]


def test_a_label_column_of_verdict_words_is_said_once_with_what_to_write(tmp_path):
    # On fa8372e0: `rejected r1.csv:2: bad label — field 'verdict': ''` five times, then the skip "(no labels)";
    # no word of the words or of what to write.
    folder = tmp_path / "labelled"
    folder.mkdir()
    for name in ("r1.csv", "r2.csv"):
        day(folder / name, "timestamp,a,b,verdict",
            lambda k: "confirmed" if 400 <= k < 420 else "false_alarm" if 500 <= k < 505 else "")
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b"], "tick_s": 1, "window": {"steps": 8},
                                   "warmup": {"ticks": 200}, "sinks": [], "state_dir": str(tmp_path / "state"),
                                   "sources": [{"type": "replay", "path": str(folder), "label_columns": ["verdict"]}]}))
    res = evaluate(cfg)
    said = [line for line in res.stderr.splitlines() if "stad.replay: " in line and "holds words" in line]
    assert len(said) == 1, res.stderr[-3000:]
    assert ("r1.csv: label column 'verdict' holds words, not numbers ('confirmed' on 20 rows, 'false_alarm' on 5 "
            "rows): each such row is counted as `bad label`") in said[0], said
    assert "write the column as 0/1 (its words are stad-agent's feedback verdicts: 1 on the 'confirmed' rows, 0 on " \
           "the others)" in said[0], said
    for name in ("r1.csv", "r2.csv"):
        assert (f"{name} (no labels: label column 'verdict' holds words, not numbers (said above with them): write it "
                "as 0/1)") in res.stderr, res.stderr[-3000:]
