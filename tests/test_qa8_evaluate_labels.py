"""`stad-agent evaluate` on unusual labels (QA pass 8): a file labelled from its first row, every
row labelled. The incidents section and the table must count the same labelled events, and a
figure that cannot say anything (AUC-PR with no normal row) is shown as none, not as 1.0."""
import datetime as dt
from pathlib import Path

import numpy as np

from agent import config
from agent.evaluate import evaluate
from agent.evaluate.metrics import average_precision
from agent.evaluate.report import format_table


def write_csv(path: Path, n: int, labelled: tuple[int, int], burst: tuple[int, int] | None = None) -> None:
    """Two smooth noisy sensors; rows [labelled) carry label 1; an erratic burst on 'a' in [burst)."""
    rng = np.random.default_rng(5)
    i = np.arange(n)
    a = np.sin(i / 20) + 0.1 * rng.normal(size=n)
    b = 0.5 * np.cos(i / 30) + 0.1 * rng.normal(size=n)
    if burst:
        a[burst[0]:burst[1]] += 3.0 * rng.choice([-1.0, 1.0], size=burst[1] - burst[0])
    t0 = dt.datetime(2024, 1, 1)
    lines = ["timestamp,a,b,anomaly"]
    for k in range(n):
        label = int(labelled[0] <= k < labelled[1])
        lines.append(f"{(t0 + dt.timedelta(seconds=k)).isoformat(sep=' ')},{a[k]:.5f},{b[k]:.5f},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(tmp_path: Path) -> dict:
    cfg = config.from_dict({
        "sensors": ["a", "b"], "sources": [{"type": "replay", "path": "x.csv", "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 400}, "sinks": [],
    }, base_dir=str(tmp_path))
    return evaluate(cfg, scorers=["numpy", "always"])


def numpy_row(report: dict) -> dict:
    return next(s for s in report["scorers"] if s["name"] == "numpy")


def test_an_event_open_when_scoring_starts_is_an_incident_not_a_false_alarm(tmp_path):
    """Labelled from row 300 (inside the 400-tick warm-up) to 1100; the burst at 1000 is inside it.
    The table counted the event (1/1), the incidents section left it out (0/0) and called the
    alert that found it a false alarm."""
    write_csv(tmp_path / "x.csv", 1500, labelled=(300, 1100), burst=(1000, 1060))
    row = numpy_row(run(tmp_path))
    assert row["events"]["events_total"] == 1 and row["events"]["events_detected"] == 1
    incidents = row["incidents_and_faults"]["incidents"]
    assert incidents["events"] == 1 and incidents["detected"] == 1
    assert incidents["false_alarms"] == row["events"]["false_alarm_events"] == 0


def test_every_row_labelled(tmp_path):
    write_csv(tmp_path / "x.csv", 1000, labelled=(0, 1000))
    report = run(tmp_path)
    row = numpy_row(report)
    assert row["auc_pr"] is None                  # every ranking of all-positive rows is "perfect"
    assert row["incidents_and_faults"]["incidents"]["events"] == row["events"]["events_total"] == 1
    numpy_line = next(line for line in format_table(report).splitlines() if line.startswith("numpy "))
    assert "1.000" not in numpy_line, numpy_line


def test_average_precision_needs_both_classes():
    assert average_precision(np.ones(5), np.arange(5.0)) is None
    assert average_precision(np.zeros(5), np.arange(5.0)) is None
    assert average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0


def test_skipped_files_say_why_in_the_table(tmp_path):
    """A folder whose files are skipped was evaluated on the rest without a word on stdout, and the
    error with none left listed names only ('skipped: header.csv')."""
    write_csv(tmp_path / "x.csv", 1500, labelled=(1000, 1060), burst=(1000, 1060))
    (tmp_path / "header.csv").write_text("timestamp,a,b,anomaly\n")
    write_csv(tmp_path / "short.csv", 100, labelled=(50, 60))
    cfg = config.from_dict({
        "sensors": ["a", "b"], "sources": [{"type": "replay", "path": ".", "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 400}, "sinks": [],
    }, base_dir=str(tmp_path))
    report = evaluate(cfg, scorers=["numpy"])
    assert [f["name"] for f in report["files"]] == ["x.csv"]
    head = format_table(report).splitlines()[1]
    assert head.startswith("skipped 2 file(s): header.csv (no rows), short.csv (too short: 100 ticks"), head


def test_labelled_training_ticks_are_said(tmp_path, caplog):
    write_csv(tmp_path / "x.csv", 1000, labelled=(0, 1000))
    with caplog.at_level("WARNING"):
        run(tmp_path)
    assert any("x.csv: 400 of the 400 training ticks are labelled anomalous" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_a_tolerance_that_is_not_seconds_is_refused(tmp_path):
    """NaN made 'always' (an alarm on every row) detect 0 of 1 events; a negative one shrank events."""
    import pytest
    write_csv(tmp_path / "x.csv", 1000, labelled=(600, 700))
    cfg = config.from_dict({
        "sensors": ["a", "b"], "sources": [{"type": "replay", "path": "x.csv", "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 400}, "sinks": [],
    }, base_dir=str(tmp_path))
    for bad in (float("nan"), -100.0, float("inf")):
        with pytest.raises(ValueError, match="--tolerance-s: expected seconds >= 0"):
            evaluate(cfg, scorers=["always"], tolerance_s=bad)
