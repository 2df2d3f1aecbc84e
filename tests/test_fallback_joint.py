"""The fallback's AR and fusion regressions held as one (agent/scorers/joint.py): a restore mid-run
continues exactly as the run that kept going, a checkpoint written by the agent before the joint
layout (main 6cd8c66) restores and goes on scoring as that agent did (up to the last bits: the
joint sums in another order), and the parts computed jointly are what each part computes alone."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.checkpoint import decode, encode
from agent.config import NumpyScorerConfig
from agent.pipeline import Pipeline
from agent.scorers.numpy_fallback import NumpyScorer
from agent.window import Row, WindowBuffer
from conftest import ar1_rows
from fallback_streams import ar1_stream

FIXTURE = Path(__file__).parent / "fixtures" / "fallback_6cd8c66.ckpt"
SENSORS = ["P1_flow", "P1_temp", "P1_press", "P2_flow", "P2_temp", "P2_press"]
CUT, END = 140, 300         # the fixture's checkpoint is taken after CUT rows; main's scores follow to END


def pipeline_cfg():
    return config.from_dict({"sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 10, "topology": "group",
                             "window": {"steps": 16}, "warmup": {"ticks": 80},
                             "scoring": {"chain": ["numpy"], "numpy": {"seasonal_periods_s": [600.0]}},
                             "alerts": {"min_duration_ticks": 2, "clear_ticks": 3, "update_interval_s": 20}})


def sim_rows(n: int, seed: int = 7) -> list[Row]:
    """P2_flow 6 up over ticks 200–230; 3 % of readings missing."""
    return ar1_rows(n, len(SENSORS), seed, (200, 230, 6.0), np.arange(len(SENSORS)) == 4, 0.03)


def make_fixture(path: Path = FIXTURE) -> None:
    """How the fixture was written: this function run with main 6cd8c66's agent on the path
    (`git archive 6cd8c66 | tar -x -C DIR; PYTHONPATH=DIR:tests python -c 'import test_fallback_joint as t;
    t.make_fixture()'`): the pipeline's checkpoint after CUT rows, with the sensor scores that agent gave
    rows CUT..END-1 beside it (under "expected", which a Pipeline does not read)."""
    rows = sim_rows(END)
    pipe = Pipeline(pipeline_cfg())
    for r in rows[:CUT]:
        pipe.step(r)
    state = pipe.state_dict()
    after = Pipeline(pipeline_cfg())
    after.restore(decode(encode({"config": {}}, state))[1])
    expected = np.array([after.step(r).sensor_scores for r in rows[CUT:]])
    path.write_bytes(encode({"config": {}, "expected": "rows CUT..END-1's sensor scores"},
                            {"pipeline": state, "expected": expected}))


def test_a_checkpoint_written_before_the_joint_layout_restores_and_scores_as_that_agent_did():
    meta, saved = decode(FIXTURE.read_bytes())
    expected = saved["expected"]
    rows = sim_rows(END)
    pipe = Pipeline(pipeline_cfg())
    pipe.restore(saved["pipeline"])
    got = np.array([pipe.step(r).sensor_scores for r in rows[CUT:]])
    assert got.shape == expected.shape and expected.max() > 3.0     # the step at 200..229 scores high
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_a_restore_continues_exactly_as_the_run_that_kept_going():
    """Restored at each place in the RLS's block of 32 ticks (so before and after a solve), through
    the file format: the same scores, bit for bit, as the run that kept going."""
    rows = sim_rows(END)
    for cut in range(CUT, CUT + 33, 4):
        running = Pipeline(pipeline_cfg())
        for r in rows[:cut]:
            running.step(r)
        restarted = Pipeline(pipeline_cfg())
        restarted.restore(decode(encode({"config": {}}, running.state_dict()))[1])
        for r in rows[cut:cut + 40]:
            a, b = running.step(r), restarted.step(r)
            assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score


def test_the_joint_rows_are_the_parts_computed_alone():
    """The AR and fusion rows of the joint regression: the AR model's own newest residual (the
    same bits) and fusion's own score (the same bits: its padding adds +0.0)."""
    n, steps, tick = 5, 16, 60.0
    z, missing, ts = ar1_stream(700, n, 0.05, 11, 0.7, tick)
    adj = np.ones((n, n)) - np.eye(n)
    adj[0] = 0.0                                        # a sensor without neighbours
    scorer = NumpyScorer(n, adj, NumpyScorerConfig(seasonal_periods_s=[3600.0]), tick_s=tick, steps=steps)
    scorer.fit(z[:400], missing[:400], ts[:400])
    buf = WindowBuffer(steps, n)
    for t in range(400 - steps, 400):
        buf.push(z[t], missing[t], ts[t])
    for t in range(400, len(z)):
        buf.push(z[t], missing[t], ts[t])
        scorer.score(buf)
        joint = scorer.joint.zscores(buf.newest64).copy()
        newest = scorer.seasonal.newest(buf)
        alone = scorer.ar._newest_residual(buf, newest)
        assert np.array_equal(joint[0], alone)
        fusion = scorer.fusion.score(buf, scorer.fusion.features(buf))
        assert np.array_equal(np.abs(joint[1]) * scorer.fusion.has_neighbours, fusion)
        scorer.ar.features(buf, newest)                 # the slot as score() left it, for learn
        scorer.observe(buf)
        scorer.learn(buf)


def test_a_deep_copy_scores_and_learns_as_the_original():
    """bench/table.py times a deep copy of the numpy pipeline's fallback. A field-by-field copy gave
    each regression its own arrays where the scorer shares one layout: the copy scored from weights
    it never learned (review8: sensor scores up to 3.65 apart after 800 ticks). Now the same bits."""
    n, steps, tick = 5, 16, 60.0
    z, missing, ts = ar1_stream(1200, n, 0.02, 11, 0.7, tick)
    original = NumpyScorer(n, np.ones((n, n)) - np.eye(n), NumpyScorerConfig(), tick_s=tick, steps=steps)
    original.fit(z[:400], missing[:400], ts[:400])
    twin = copy.deepcopy(original)
    assert np.shares_memory(twin.joint.w, twin.ar.rls.w) and not np.shares_memory(twin.joint.w, original.joint.w)
    bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
    for t in range(400 - steps, len(z)):
        for scorer, buf in zip((original, twin), bufs):
            buf.push(z[t], missing[t], ts[t])
        if t < 400:
            continue
        a, b = (scorer.score(buf) for scorer, buf in zip((original, twin), bufs))
        assert np.array_equal(a.sensor_scores, b.sensor_scores), t
        for scorer, buf in zip((original, twin), bufs):
            scorer.observe(buf)
            scorer.learn(buf)


@pytest.mark.parametrize("n", [5, 1])
def test_the_next_ticks_flat_path_is_the_parts_path_bit_for_bit(n):
    """NumpyScorer._next_score (the window one tick on from the last scored, scored by one flat
    function) against the parts' own methods (_score_any) on a twin: the same scores and, after
    observing and learning every tick, the same checkpoint, bit for bit. With a seasonal profile in
    use, a sensor without neighbours, values missing in the newest row and in the one before (the
    Markov chain's propagated states), and now and then a tick not scored (the next one is not one
    tick on: both scorers take _score_any). Also with one sensor (NAB's streams), where the
    neighbour mean's matrix-vector product is not BLAS's: np.dot and np.matmul then differ in the
    sign of a zero (0 · x for x < 0), which the checkpoint keeps."""
    steps, tick = 16, 60.0
    z, missing, ts = ar1_stream(1000, n, 0.05, 11, 0.7, tick)
    adj = np.ones((n, n)) - np.eye(n)
    adj[0] = 0.0
    flat = NumpyScorer(n, adj, NumpyScorerConfig(seasonal_periods_s=[3600.0]), tick_s=tick, steps=steps)
    flat.fit(z[:400], missing[:400], ts[:400])
    assert flat.seasonal.profiles[0].ref_n.min() >= 2        # the profile's regressors are in use
    parts = copy.deepcopy(flat)
    bufs = WindowBuffer(steps, n), WindowBuffer(steps, n)
    ran = {"flat, nothing missing": 0, "flat, missing now": 0, "flat, missing before": 0, "_score_any": 0}
    for t in range(400 - steps, len(z)):
        for buf in bufs:
            buf.push(z[t], missing[t], ts[t])
        if t < 400 or t % 37 == 0:
            continue
        a = flat._next_score(bufs[0], float(ts[t]))
        if a is None:
            a = flat._score_any(bufs[0])
            ran["_score_any"] += 1
        else:
            ran["flat, missing now" if missing[t].any() else "flat, missing before" if missing[t - 1].any()
                else "flat, nothing missing"] += 1
        b = parts._score_any(bufs[1])
        assert np.array_equal(a.sensor_scores, b.sensor_scores) and a.score == b.score, t
        for scorer, buf in zip((flat, parts), bufs):
            scorer.observe(buf)
            scorer.learn(buf)
    assert min(ran.values()) >= 10, ran
    assert encode({"config": {}}, flat.state_dict()) == encode({"config": {}}, parts.state_dict())


if __name__ == "__main__" and len(sys.argv) > 1:
    make_fixture(Path(sys.argv[1]))
