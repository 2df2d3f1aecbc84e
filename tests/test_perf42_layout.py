"""perf42: the numpy fallback's state laid out for fewer per-tick calls (the seasonal profile's newest-cycle
sums and counts as one (bins, 2, n) array, a learned tick's [1; x] added in one call from the scorer's stacked
rows; the Markov chain's per-tick scalars as 0-d arrays) reads and writes what main 4ea2297 did: a checkpoint
that main wrote mid-run restores here and goes on with the same scores, thresholds and alert events, and the
fallback's state at the end is main's (the checkpoint's keys, shapes and values: the format is unchanged).
Recorded by main 4ea2297 in tests/fixtures/perf42_4ea2297.npz; compared to 1e-9 relative (bit for bit on
the machine that recorded it, which the round checked; another CPU's numpy may round a sum differently)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agent.checkpoint import decode, encode
from agent.pipeline import Pipeline
from agent.scorers.seasonal import SeasonalProfile
from agent.window import Row
from fault_states import assert_close
from recorded_outputs import SENSORS, Outputs, corridor_stream, named_apart, pipeline_cfg

FIXTURE = Path(__file__).parent / "fixtures" / "perf42_4ea2297.npz"
ROWS, CUT = 700, 350            # the stream's rows; main's checkpoint is taken after CUT


def stream() -> list[Row]:
    """An AR(1) stream around 20 with a 600-s cycle, 4 % of readings missing (S00_x two ticks in a row every 89),
    S00_speed 5 up over rows 400–440 and S01_flow 8 up over rows 560–580."""
    return corridor_stream(ROWS, 42, 2e9, 0.04, 89, [(2, 5.0, 400, 440), (4, 8.0, 560, 580)])


def outputs(pipe: Pipeline, rows: list[Row]) -> dict:
    """Each row's sensor scores, tick score, threshold and alert events, stepped through `pipe`."""
    out = Outputs(len(SENSORS))
    for r in rows:
        out.add(pipe.step(r))
    return out.arrays()


def record(path: Path = FIXTURE) -> None:
    """How the fixture was written: this function run with main 4ea2297's agent on the path
    (`git archive 4ea2297 agent | tar -x -C DIR; cd /tmp; PYTHONPATH=DIR:REPO/tests python -c 'import
    test_perf42_layout as t; t.record()'`: not from the repository, whose agent would be imported): main's checkpoint after CUT rows, main's outputs of the rows
    after it, and main's fallback state at the end, each checkpoint as its encoded bytes."""
    rows = stream()
    pipe = Pipeline(pipeline_cfg())
    outputs(pipe, rows[:CUT])
    checkpoint = encode({"config": {}}, pipe.state_dict())
    after = outputs(pipe, rows[CUT:])
    end = encode({"config": {}}, pipe.numpy.state_dict())
    np.savez_compressed(path, checkpoint=np.frombuffer(checkpoint, np.uint8), end=np.frombuffer(end, np.uint8), **after)


def test_a_checkpoint_main_wrote_restores_and_goes_on_as_main_did():
    want = np.load(FIXTURE)
    pipe = Pipeline(pipeline_cfg())
    pipe.restore(decode(want["checkpoint"].tobytes())[1])
    got = outputs(pipe, stream()[CUT:])
    for key in ("scores", "tick", "threshold"):
        assert_close(got[key], want[key], path=key)
    events, want_events = json.loads(got["events"]), json.loads(str(want["events"]))
    named_apart(events, want_events)        # (explain2: the sensors named by where)
    assert_close(events, want_events, path="events")
    events = json.loads(got["events"])
    assert [e[1] for tick in events for e in tick if e[1] != "update"] == ["new", "end"]   # S01_flow's bump
    # the fallback's state at the end, as main's checkpoint held it: the same keys, shapes and values
    end = decode(encode({"config": {}}, pipe.numpy.state_dict()))[1]
    # (faults18's bounded fusion inputs came after the fixture: restored from it, none bounded)
    assert end["fusion"].pop("inputs") == {"index": [], "lo": [], "hi": []}
    assert_close(end, decode(want["end"].tobytes())[1])
    profile = pipe.numpy.seasonal.profiles[0]
    assert (profile.ref_n >= 2).all() and (profile.acc_n > 0).any()      # the profile known and learning


def test_a_tick_learned_from_the_callers_one_x_is_the_tick_learned_alone():
    """The profile's [count; sum] rows: a learned tick's [1; x] from the caller (the fallback's stacked rows)
    adds what learning x alone adds, first value of a cycle and later ones, and the views acc_n and acc_sum
    (the checkpoint's arrays) are those rows."""
    rng = np.random.default_rng(3)
    n = 5
    a, b = SeasonalProfile(n, 600.0, 10.0, 3), SeasonalProfile(n, 600.0, 10.0, 3)
    for t in range(400):
        x = rng.normal(size=n)
        valid = None if t % 7 else rng.random(n) < 0.6
        a.learn(10.0 * t, x, valid)
        b.learn(10.0 * t, x, valid, one_x=np.stack([np.ones(n), x]) if t % 3 else None)
    for key in ("ref", "ref_n", "acc_sum", "acc_n", "acc_cycle"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert np.array_equal(a.acc_n, a._acc[:, 0]) and np.array_equal(a.acc_sum, a._acc[:, 1])
    assert a.acc_n.max() >= 1 and (a.ref_n > 0).any()
