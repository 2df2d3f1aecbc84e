"""A reading after the time base stepped back is not one tick after the last one before the step, so its change
from it is no spike (review35). The step back is `Pipeline.rebase`: the data's clock moved back (a device clock
reset, a recording played again) or a restart found the host clock behind its checkpoint — a gateway without a
real-time clock that boots after a power cut on fake-hwclock's saved time, its downtime of unknown length. The window
already refilled there (the model never scores across the join); the spike rule still took the two readings as
consecutive: a level that moved while the gateway was off was told `spike … N× its normal tick-to-tick change`,
as user23's restart was before FaultTracker.after_gap (which covered only a restart whose gap is known).

Real parts: the demo config's pipeline (its fault rules, the model tier), fed aligned rows of its simulator; the
step back is a Row with `rebased_from`, as the Aligner makes it.
"""
from __future__ import annotations

from dataclasses import replace

from conftest import NO_DEMO, demo_cfg, sim_rows

from agent.pipeline import Pipeline

pytestmark = NO_DEMO

SENSOR, JUMP, AT = "S03_speed", 40.0, 400


def _spikes(tmp_path, rows, back_s: float) -> list[tuple[str, str]]:
    """The spike faults of the demo's pipeline when SENSOR's level moves by JUMP at row AT and stays there; the rows
    from AT on stamped `back_s` earlier, the first of them a step back of the time base when back_s > 0."""
    cfg = demo_cfg(tmp_path, warmup_ticks=300)
    i = cfg.sensor_names().index(SENSOR)
    pipe = Pipeline(cfg)
    for r in rows[:AT]:
        pipe.step(r)
    told = []
    for n, r in enumerate(rows[AT:AT + 20]):
        values = r.values.copy()
        values[i] += JUMP
        row = replace(r, values=values, ts=r.ts - back_s)
        if n == 0 and back_s:
            row = replace(row, rebased_from=rows[AT - 1].ts)
        told += [(f.sensor, f.kind) for f in pipe.step(row).faults if f.event == "fault"]
    return told


def test_a_level_that_moved_across_a_step_back_of_the_time_base_is_no_spike(tmp_path):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.2, anomalies="none")
    # one tick apart, the same jump is a spike (the rule sees it)
    assert (SENSOR, "spike") in _spikes(tmp_path / "adjacent", rows, 0.0)
    back = 200 * (rows[1].ts - rows[0].ts)
    told = _spikes(tmp_path / "rebased", rows, back)
    assert (SENSOR, "spike") not in told, told
