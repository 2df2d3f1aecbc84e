"""`evaluate --report NAME.md`: refused before the replay, not the JSON report replaced by its own summary.

review37: the Markdown summary is written beside the JSON report under the report's name with `.md`
(agent/evaluate/report.py summary_path). Given a report named `.md`, evaluate replayed every file, wrote the JSON,
then the summary over it: the report was lost, and the line after the table named the one file twice. Now the
command refuses it as a bad argument (exit 2, nothing replayed or written) and evaluate() before it replays; a
report with another name still gets both files. The command's own parser and a real replay of a planted file
(its numbers unjudged here: the `always` baseline).
"""
from __future__ import annotations

import json

import pytest

from agent import config
from agent.cli import main
from agent.evaluate import evaluate

CONFIG = ("sensors: [a, b]\nsources:\n  - {type: replay, path: planted.csv, label_columns: [anomaly]}\n"
          "tick_s: 1\nwindow: {steps: 16}\nwarmup: {ticks: 400}\nsinks: []\n")


def planted_config(tmp_path):
    """Two sensors, 900 one-second rows, rows 700-759 labelled anomalous and off their course."""
    lines = ["timestamp,a,b,anomaly"]
    for k in range(900):
        odd = 700 <= k < 760
        lines.append(f"2024-01-01 {k // 3600:02d}:{k // 60 % 60:02d}:{k % 60:02d},{(k % 17) / 17 + 3 * odd:.4f},"
                     f"{(k % 23) / 23:.4f},{int(odd)}")
    (tmp_path / "planted.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    return config.load(str(tmp_path / "cfg.yaml"))


def test_a_report_named_md_is_a_usage_error_and_nothing_is_written(tmp_path, capsys):
    planted_config(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "-c", str(tmp_path / "cfg.yaml"), "--scorer", "numpy", "--report",
              str(tmp_path / "results.md")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert (f"argument --report: {tmp_path / 'results.md'}: the JSON report's name ends in .md, the name of its "
            "Markdown summary") in err and "(e.g. results.json)" in err, err
    assert not (tmp_path / "results.md").exists()


def test_evaluate_refuses_it_before_the_replay(tmp_path):
    cfg = planted_config(tmp_path)
    with pytest.raises(ValueError, match="the JSON report's name ends in .md"):
        evaluate(cfg, scorers=["always"], report_path=str(tmp_path / "results.md"))
    assert not (tmp_path / "results.md").exists()


def test_a_report_named_otherwise_gets_both_files(tmp_path, capsys):
    planted_config(tmp_path)
    assert main(["evaluate", "-c", str(tmp_path / "cfg.yaml"), "--scorer", "always", "--report",
                 str(tmp_path / "results")]) == 0
    assert json.loads((tmp_path / "results").read_text())["protocol"]["name"] == "warmup"
    assert (tmp_path / "results.md").read_text().startswith("#")
    assert f"report: {tmp_path / 'results'} (summary: {tmp_path / 'results.md'})" in capsys.readouterr().err
