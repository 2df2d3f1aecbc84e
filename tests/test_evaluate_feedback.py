"""`stad-agent evaluate --feedback-delay S`: labels replayed as operator feedback through the
daemon's feedback code (agent/evaluate/feedback_replay.py)."""
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.alerts import AlertEvent
from agent.evaluate import evaluate
from agent.evaluate.feedback_replay import LabelledOperator, false_alarms_over_time
from agent.evaluate.report import format_markdown, format_table
from conftest import valid_report
from agent.feedback import FeedbackConfig, FeedbackMemory

UNLABELLED_BURSTS = (700, 1000, 1300, 1600, 1900, 2200)     # the same normal pattern, again and again
LABELLED_BURST = 2600


def write_csv(path: Path, n: int = 3000, seed: int = 3) -> None:
    """Two smooth noisy sensors; the same modest burst on 'a' six times unlabelled (a pattern the
    operator calls normal) and one strong burst labelled anomalous."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    a = np.sin(i / 20) + 0.1 * rng.normal(size=n)
    b = 0.5 * np.cos(i / 30) + 0.1 * rng.normal(size=n)
    label = np.zeros(n, int)
    for start in UNLABELLED_BURSTS:
        a[start:start + 20] += 1.2
    a[LABELLED_BURST:LABELLED_BURST + 40] += 6.0
    label[LABELLED_BURST:LABELLED_BURST + 40] = 1
    t0 = dt.datetime(2024, 1, 1)
    lines = ["timestamp,a,b,anomaly"] + [
        f"{(t0 + dt.timedelta(seconds=k)).isoformat(sep=' ')},{a[k]:.5f},{b[k]:.5f},{label[k]}" for k in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def feedback_config(tmp_path: Path, feedback: dict) -> config.AgentConfig:
    write_csv(tmp_path / "bursts.csv")
    return config.from_dict({
        "sensors": ["a", "b"],
        "sources": [{"type": "replay", "path": "bursts.csv", "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 400},
        "sinks": [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 1883}, "feedback": feedback}],
    }, base_dir=str(tmp_path))


@pytest.fixture(scope="module")
def feedback_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("feedback")
    cfg = feedback_config(tmp, {"max_lift": 4.0, "half_life_s": 7200})
    report = evaluate(cfg, scorers=["numpy"], feedback_delay_s=10, report_path=str(tmp / "report.json"))
    return tmp, report


def scorer(report: dict, name: str) -> dict:
    return next(s for s in report["scorers"] if s["name"] == name)


def test_false_alarm_feedback_stops_the_repeated_pattern_and_keeps_the_real_anomaly(feedback_run):
    _, report = feedback_run
    plain, taught = scorer(report, "numpy"), scorer(report, "numpy+feedback")
    assert plain["events"]["false_alarm_events"] >= 4             # the bursts alarm again and again
    assert taught["events"]["false_alarm_events"] < plain["events"]["false_alarm_events"]
    assert taught["events"]["events_detected"] == 1              # the strong labelled burst still alerts
    verdicts = report["feedback"]["verdicts"]["numpy+feedback"]
    assert verdicts["confirmed"] >= 1
    assert verdicts["false_alarm"] == taught["events"]["false_alarm_events"]
    assert sum(verdicts.values()) == taught["events"]["alert_spans"]          # every alert answered
    assert "refused" not in verdicts


def test_the_configured_feedback_settings_are_the_ones_replayed(feedback_run):
    _, report = feedback_run
    assert report["feedback"] == {**report["feedback"], "delay_s": 10.0, "max_lift": 4.0, "half_life_s": 7200.0}


def test_false_alarms_over_time_add_up_to_the_event_count(feedback_run):
    _, report = feedback_run
    for s in report["scorers"]:
        over = s["false_alarms_over_time"]
        assert over["parts"] == 10 and len(over["per_day"]) == 10
        assert sum(over["false_alarms"]) == s["events"]["false_alarm_events"]
        assert sum(over["days"]) == pytest.approx(s["scored_rows"] / 86400, rel=1e-6)


def test_the_report_with_feedback_validates_and_prints_the_table(feedback_run):
    tmp, report = feedback_run
    on_disk = valid_report(tmp / "report.json")
    table = format_table(report)
    assert "false alarms per day, by tenth of the scored span" in table and "numpy+feedback" in table
    assert "Replayed operator feedback" in format_markdown(on_disk)


def test_without_the_flag_nothing_is_replayed(tmp_path):
    cfg = feedback_config(tmp_path, {})
    report = evaluate(cfg, scorers=["numpy"])
    assert [s["name"] for s in report["scorers"]] == ["numpy"]
    assert "feedback" not in report and "false_alarms_over_time" not in report["scorers"][0]


def test_a_negative_delay_is_refused(tmp_path):
    cfg = feedback_config(tmp_path, {})
    with pytest.raises(ValueError, match="--feedback-delay"):
        evaluate(cfg, scorers=["numpy"], feedback_delay_s=-1)


def new_alert(alert_id: str, ts: float, event: str = "new", end: float | None = None) -> AlertEvent:
    return AlertEvent(alert_id=alert_id, seq=0, event=event, node="n", site="s", ts=ts, start=ts, end=end,
                      score=2.0, peak_score=2.0, threshold=1.0, tier="numpy", model_id="m", model_sha256=None,
                      top_sensors=[], top_steps=[], origin=None, ticks=1)


def test_the_verdict_uses_only_labels_seen_by_the_time_it_is_given():
    """An event that begins after the feedback was due cannot make the alert confirmed."""
    memory = FeedbackMemory(FeedbackConfig())
    operator = LabelledOperator(events=[(130.0, 150.0), (300.0, 320.0)], delay_s=60, tolerance_s=0, memory=memory)
    for alert_id, ts in (("early", 100.0), ("late", 250.0)):
        memory.seen(alert_id, ts, 2.0)
        operator.observe([new_alert(alert_id, ts)])
    operator.deliver(159.0)
    assert operator.verdicts == {}                        # not due yet
    operator.deliver(160.0)                               # "early": the event began at 130, inside [100, 160]
    assert operator.verdicts == {"confirmed": 1}
    operator.deliver(310.0)                               # "late" was due at 310: the event at 300 is seen
    assert operator.verdicts == {"confirmed": 2}


def test_an_alert_over_before_an_event_is_a_false_alarm_and_lifts_the_threshold():
    memory = FeedbackMemory(FeedbackConfig())
    operator = LabelledOperator(events=[(200.0, 220.0)], delay_s=300, tolerance_s=10, memory=memory)
    memory.seen("a1", 100.0, 1.2)
    operator.observe([new_alert("a1", 100.0)])
    operator.observe([new_alert("a1", 150.0, event="end", end=150.0)])      # ended before the event began
    memory.now = 400.0
    operator.deliver(400.0)
    assert operator.verdicts == {"false_alarm": 1}
    assert memory.lift(400.0) == pytest.approx(1.2 * 1.05 - 1)


def test_an_alert_the_node_forgot_is_counted_as_refused():
    memory = FeedbackMemory(FeedbackConfig())                # never told of the alert (seen not called)
    operator = LabelledOperator(events=[], delay_s=0, tolerance_s=0, memory=memory)
    operator.observe([new_alert("gone", 10.0)])
    operator.deliver(10.0)
    assert operator.verdicts == {"refused": 1}


def test_over_time_counts_a_false_alarm_in_the_part_it_was_raised(feedback_run):
    from agent.evaluate.traces import FileRows, Trace
    from agent.window import Row
    rows = [Row(ts=float(t), values=np.zeros(1), missing=np.zeros(1, bool), carried=np.zeros(1, bool), label=0)
            for t in range(100)]
    f = FileRows(name="x", rows=rows, train_ticks=0, tick_s=1.0)
    t = Trace.of(f, "numpy", score=np.zeros(100), threshold=np.ones(100), alert_spans=[(5.0, 7.0), (95.0, 99.0)],
                 onsets=[5.0, 95.0])
    over = false_alarms_over_time([(f, t)], tolerance_s=0)
    assert over["false_alarms"] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert over["per_day"][0] == pytest.approx(1 / (10 / 86400))
