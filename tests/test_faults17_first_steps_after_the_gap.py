"""faults17: the spike rule does not judge a sensor on a recent change of before the tracker's gap.

The rule's scale is max(a sensor's usual step, its mean step over the last RECENT_TICKS ticks): the recent mean keeps a
sensor busy now (occupancy in a queue) from being judged on its quiet hours' scale. After the recording the rules
were taught on (`warmup.replay`), the ring held the recording's steps of the same hour of another day. Seed 250's
recorded day has S04 at 10 % occupancy at 08:00, steps of ~0.4; the live day (seed 350) starts in a queue there
(25–30 %, steps of ~1.2, up to 4.5). Before (8c8721e9) the healthy S04_occ was paged `spike` at 08:01:00 and 08:03:30
(faults16's side finding). Now a sensor is judged once RECENT_TICKS of its steps since the gap are in the ring — and a
real spike after those first ticks is still paged on its tick.

A real `python -m agent run` on real files (the corridor simulator's CSVs at 30-s ticks); fault events from the
jsonl sink, each checked against the shipped schema."""
from __future__ import annotations

from agent.sources.lines import parse_time
from recorded_warmup import agent_run, fault_events, write

FIRST = "2026-01-05T08:00:00Z"
AT = "2026-01-05T08:10:00"          # the 21st live tick: past the rule's first RECENT_TICKS + 1 steps


def _live(tmp_path, edit=None) -> list[dict]:
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 24, seed=250)
    write(tmp_path / "live.csv", FIRST, 3, seed=350, edit=edit)    # (3 h: the simulator's values depend on it)
    agent_run(tmp_path)
    return [f for f in fault_events(tmp_path) if f["event"] == "fault"]


def test_a_loop_in_a_queue_the_taught_day_had_not_is_no_spike_in_its_first_live_steps(tmp_path):
    raised = _live(tmp_path)
    assert not [f for f in raised if f["kind"] == "spike"], [(f["sensor"], f["ts"], f["evidence"]["summary"])
                                                             for f in raised]


def test_a_real_spike_after_the_first_live_steps_is_still_paged_on_its_tick(tmp_path):
    ticks = {"k": 0}

    def spiked(values):
        ticks["k"] += 1
        if ticks["k"] == 21:                # 08:10:00: the busy loop reads 40 % more for one tick
            values["S04_occ"] += 40.0
    raised = _live(tmp_path, spiked)
    spikes = [f for f in raised if f["kind"] == "spike"]
    assert [(f["sensor"], f["ts"][:19]) for f in spikes] == [("S04_occ", AT)], \
        [(f["sensor"], f["ts"], f["evidence"]["summary"]) for f in raised]
    assert parse_time(spikes[0]["start"]) == parse_time(AT + "Z")
    assert "stayed calm" in spikes[0]["evidence"]["summary"], spikes[0]


def _spike_rule(pipe):
    return next(r for r in pipe.health.rules if r.KIND == "spike")


def test_a_restore_in_the_first_steps_after_a_restart_gap_judges_as_the_unrestored_run():
    """Corridor seed 3 on the Pipeline: 50 minutes of ticks skipped (a restart's downtime, `after_restart`), then a
    checkpoint round trip 5 ticks later, while the rule still counts the steps since the gap: the restored run's
    fault events, and its spike state over the first 20 ticks after the gap, are the unrestored run's."""
    from agent.config import from_dict
    from agent.pipeline import Pipeline
    from conftest import bench_module, through_file
    from fault_states import text

    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("corridor", 3, 12))
    rows = faults.simulated_rows(cfg)
    gap, back, restore_at, end = 1000, 1100, 1105, 1180
    runs = []
    for restore in (False, True):
        pipe, events = Pipeline(cfg), []
        for k in [*range(gap), *range(back, end)]:
            if k == back:
                pipe.after_restart(rows[k].ts, (back - gap + 1) * cfg.tick_s, skipped=True)
            if k == restore_at and restore:
                assert _spike_rule(pipe).since_gap is not None      # (still counting: the path under test)
                state = through_file(pipe.state_dict())
                pipe = Pipeline(cfg)
                pipe.restore(state)
            for ev in pipe.step(rows[k]).faults or []:
                d = ev.to_dict()
                d.pop("fault_id", None)
                events.append((k, d))
            if k < back + 20:
                events.append((k, text(_spike_rule(pipe).state())))
        runs.append(events)
    assert runs[1] == runs[0]
    assert _spike_rule(pipe).since_gap is None          # every sensor's ring is of steps since the gap by then
