"""State that holds times of the old time base, after the time base moves back (Pipeline.rebase):
a restart on a checkpoint a day ahead of the host's clock (qa12), or a step back of the data. Each
clock that compares a tick's time with a stored one stood still for as long as the step: the
threshold learned nothing for a day after a peak (`ts - above_at >= quiet_s` negative), a fault
open at the step ended a day before it started, the recurring level and the clock scale learned
nothing (their cycle older than the one held). agent/timebase.py moves them all, in one place."""
from __future__ import annotations

import json
import random
import time

import jsonschema
import numpy as np

from conftest import wait_for
from restart_helpers import ROOT, AgentProcess, copy_run, write_config

from agent.config import AlertConfig, from_dict
from agent.detector import Detector
from agent.feedback import FeedbackConfig, FeedbackMemory
from agent.pipeline import Pipeline
from agent.records import Record, Rejects
from agent.clock_scale import ClockScale
from agent.scorers.seasonal import SeasonalProfile
from agent.threshold import RecurringLevel
from agent.time_shift import shift_times
from agent.window import Aligner

DAY_S = 86_400.0
T0 = 1_767_600_000
FAULT_SCHEMA = json.loads((ROOT / "agent/schemas/fault.schema.json").read_text())


def pump(i: int, ts: float, stuck: bool) -> str:
    """Three sensors at one row a second; `b` stuck at 2.0 when `stuck`."""
    r = random.Random(i)
    return json.dumps({"ts": ts, "a": 1.0 + r.gauss(0, 0.1), "b": 2.0 if stuck else 2.0 + r.gauss(0, 0.1),
                       "c": r.gauss(0, 0.1)}) + "\n"


def fault_lines(tmp) -> list[dict]:
    path = tmp / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines(keepends=True) if ln.endswith("\n") and '"fault_id"' in ln]


def test_a_fault_open_at_a_restart_on_a_checkpoint_a_day_ahead_ends_after_it_started(tmp_path):
    # On the old code the fault's start stayed a day ahead: its fault_end, when `b` moved again, said
    # it ended a day before it started (start 2026-…T+1d > end).
    first = tmp_path / "first"
    first.mkdir()
    cfg = write_config(first)
    ahead = AgentProcess(first, cfg, "run1")
    ahead.ready()
    t_ahead = time.time() + DAY_S
    ahead.feed(pump(i, t_ahead + i, stuck=i >= 100) for i in range(260))
    wait_for(lambda: fault_lines(first), "the stuck fault on b", proc=ahead.proc)
    seen = time.time()
    ckpt = first / "state" / "checkpoint.bin"
    wait_for(lambda: ckpt.is_file() and ckpt.stat().st_mtime > seen, "a checkpoint after the fault", proc=ahead.proc)
    ahead.kill()                    # it stays open: in the checkpoint or the fault journal
    raised = [f for f in fault_lines(first) if f["event"] == "fault"]
    assert [(f["sensor"], f["kind"]) for f in raised] == [("b", "stuck")], fault_lines(first)

    second = tmp_path / "second"
    second.mkdir()
    cfg2 = copy_run(first, second)
    cfg2.write_text(cfg2.read_text().replace("max_clock_skew_s: 0", "max_clock_skew_s: 300"))
    agent = AgentProcess(second, cfg2, "run2")
    agent.ready()
    t_now = time.time()
    agent.feed(pump(i, t_now + i - 260, stuck=False) for i in range(260, 400))
    assert agent.finish() == 0
    err = agent.stderr()
    assert "ahead of this host's clock" in err, err[-3000:]
    ends = [f for f in fault_lines(second) if f["event"] == "fault_end" and f["fault_id"] == raised[0]["fault_id"]]
    assert ends, (fault_lines(second), err[-3000:])
    # within the hour after the restart, not a day ahead (whole ISO stamps: an hour's prefix alone sorts
    # before every stamp inside that hour, which failed this whenever the feed crossed an hour's start)
    assert ends[0]["start"] <= ends[0]["end"] < time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_now + 3600)), ends[0]
    for f in fault_lines(second):
        jsonschema.validate(f, FAULT_SCHEMA)


def test_after_a_day_step_back_of_the_data_the_threshold_learns_and_a_fault_ends_after_it_started():
    """In process, the aligner and one Pipeline (what the agent and the evaluator run): a peak on `a`
    right before the step, `b` stuck across it."""
    cfg = from_dict({"tick_s": 10, "sensors": ["a", "b", "c"], "sources": [{"type": "stdin"}],
                     "warmup": {"ticks": 200}, "window": {"steps": 16}, "scoring": {"chain": ["numpy"]},
                     "threshold": {"quiet_s": 600}})
    pipe, al = Pipeline(cfg), Aligner.for_agent(cfg, Rejects())

    def rec(i: int, ts: float) -> Record:
        r = random.Random(i)
        return Record(ts=ts, values={"a": 1 + r.gauss(0, 0.1) + (8.0 if 560 <= i < 600 else 0.0),
                                     "b": 2.0 if 400 <= i < 640 else 2 + r.gauss(0, 0.1), "c": r.gauss(0, 0.1)})
    recs = [rec(i, T0 + 10 * i) for i in range(600)] + [rec(i, T0 + 10 * i - DAY_S) for i in range(600, 1400)]
    faults, learned = [], []
    for r in recs:
        for row in al.push(r):
            res = pipe.step(row)
            faults += res.faults
            if row.ts < T0:
                learned.append(pipe.thresholds["numpy"].n)
    assert len(learned) > 790
    # ~800 ticks (2.2 h) after the step; the old code learned none of them (the peak's time a day ahead)
    assert learned[-1] - learned[0] > 600, (learned[0], learned[-1])
    ended = [f for f in faults if f.event == "fault_end" and f.sensor == "b"]
    assert ended and ended[0].start <= ended[0].end, ended


def test_the_recurring_level_learns_after_a_step_back_and_keeps_its_cycles():
    level = RecurringLevel(DAY_S, 600.0, 2)
    for day in range(3):
        level.learn(T0 + day * DAY_S, 5.0)
    level.shift_time(-DAY_S - 3600.0)       # the data stepped back a day and an hour
    assert sorted(level.peak.max(axis=1).tolist())[-3:] == [5.0, 5.0, 5.0]     # the three days kept
    level.learn(T0 + DAY_S - 3600.0, 7.0)   # on the old state: older than the cycle held, not learned
    assert np.max(level.peak) == 7.0


def test_the_clock_scale_learns_after_a_step_back():
    scale = ClockScale(DAY_S, 24, False, 4.0)
    for day in range(3):
        scale.learn(T0 + day * DAY_S, 1.0, 10.0)
    scale.shift_time(-DAY_S)                # the data stepped back a day
    scale.learn(T0 + DAY_S + 60.0, 2.0, 10.0)   # on the old state: older than the bin's cycle, not learned
    assert scale.mean.max() > 1.0


def test_a_false_alarm_lift_decays_after_a_step_back():
    """Through the walk from the detector, as Pipeline.rebase does it."""
    det = Detector(AlertConfig(), "n", "s", 10.0)
    det.feedback = FeedbackMemory(FeedbackConfig(half_life_s=3600.0))
    det.feedback.seen("a1", T0, 3.0)                 # 3× over its threshold
    det.feedback.apply("a1", "false_alarm")
    full = det.feedback.lift(T0)
    shift_times(det, -DAY_S)
    # An hour later on the new base: half; on the old state the lift stood at full for the day
    assert abs(det.feedback.lift(T0 - DAY_S + 3600.0) - full / 2) < 1e-9 * full


def test_the_seasonal_profile_learns_after_a_step_back():
    profile = SeasonalProfile(1, DAY_S, 600.0, 7)
    for day in range(3):
        profile.learn(T0 + day * DAY_S, np.array([1.0]), None)
    profile.shift_time(-DAY_S)              # the data stepped back a day
    b, _ = profile.locate(T0 + DAY_S + 60.0)
    profile.learn(T0 + DAY_S + 60.0, np.array([5.0]), None)   # on the old state: older than the bin's cycle
    assert profile.acc_sum[b, 0] == 6.0 and profile.acc_n[b, 0] == 2.0
