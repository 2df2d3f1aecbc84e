"""The numpy fallback's seasonal profile (agent/scorers/seasonal.py) and what it changes: a change
the clock schedules every day stops alerting, one it does not schedule still alerts; the
Markov counts see every tick, so noise does not talk itself into ever more alarms."""
import numpy as np
import pytest

from agent import config
from agent.config import NumpyScorerConfig
from agent.pipeline import Pipeline
from agent.scorers.numpy_fallback import NumpyScorer
from agent.scorers.seasonal import MIN_CYCLES, SeasonalFeatures, SeasonalProfile
from agent.window import Row, WindowBuffer

DAY = 86400.0
TICK = 300.0


def test_profile_uses_only_earlier_cycles_and_needs_min_cycles():
    p = SeasonalProfile(1, DAY, TICK, memory_cycles=4)
    assert p.bins == 288 and p.locate(DAY + 3 * TICK + 10) == (3, 1)
    one, seen = np.array([1.0]), np.array([True])
    for day in range(MIN_CYCLES):
        p.learn(day * DAY + 600, one * (day + 1), seen)
        # today's value never informs today's reference
        assert not p.value(day * DAY + 600)[1][0]
    value, known = p.value(MIN_CYCLES * DAY + 600)
    assert known[0] and value[0] == pytest.approx(np.mean(np.arange(1, MIN_CYCLES + 1)))
    # the lookup is pure: asking does not fold anything in
    assert p.ref_n[2, 0] == MIN_CYCLES - 1
    assert not p.value(MIN_CYCLES * DAY + 900)[1][0]          # another bin has seen nothing


def test_profile_bins_are_capped_and_memory_is_exponential():
    assert SeasonalProfile(2, DAY, 1.0, 4).bins == 288          # 1-s ticks: 5-min bins, not 86,400
    assert SeasonalProfile(2, DAY, 3600.0, 4).bins == 24
    p = SeasonalProfile(1, DAY, TICK, memory_cycles=2)
    for day in range(6):
        p.learn(day * DAY, np.array([10.0 if day < 3 else 0.0]), np.array([True]))
    # memory 2: each new cycle weighs 1/2, so three cycles of 0 after 10s leave 10/8
    assert p.value(6 * DAY)[0][0] == pytest.approx(10.0 / 8)


def test_replay_matches_online_features():
    rng = np.random.default_rng(0)
    n_ticks = int(4 * DAY / TICK)
    ts = np.arange(n_ticks) * TICK
    z = np.sin(2 * np.pi * ts / DAY)[:, None] + 0.05 * rng.normal(size=(n_ticks, 1))
    missing = np.zeros_like(z, bool)
    batch = SeasonalFeatures(1, [DAY], TICK, 4, keep=10).replay(ts, z, missing)
    online = SeasonalFeatures(1, [DAY], TICK, 4, keep=10)
    buf = WindowBuffer(8, 1)
    for i in range(n_ticks):
        buf.push(z[i], missing[i], ts[i])
        if i >= 8:
            np.testing.assert_allclose(online.window(buf)[-1], batch[i], atol=1e-6)   # window: float32
        online.learn(ts[i], z[i], ~missing[i])
    assert np.abs(batch[: int(2 * DAY / TICK)]).max() == 0.0     # nothing known before MIN_CYCLES days
    assert np.abs(batch[-10:, 0, 1]).max() < 0.5                 # the deviation: small on a regular day


def test_a_fold_read_for_a_row_and_folded_in_by_learning_is_the_fold_computed_afresh():
    """A tick's row reads its bin with the last cycle folded in, and learning the tick folds it in:
    the second is the first's arrays (SeasonalProfile._fold), and a bin whose every sensor was seen
    folds without the masks. The same bits as folding afresh each time, rows and profiles, with
    sensors missing (some bins' cycles with a sensor never seen), three periods (one of one bin:
    every tick folds it)."""
    class Afresh(SeasonalProfile):
        def _folded(self, b):           # every time, through the masks (the fold before _fold)
            pending = self.acc_n[b] > 0
            mean = np.divide(self.acc_sum[b], self.acc_n[b], out=np.zeros(self.ref.shape[1]), where=pending)
            n_after = np.minimum(self.ref_n[b] + 1, self.memory)
            ref = np.where(pending, self.ref[b] + (mean - self.ref[b]) / n_after, self.ref[b])
            self._fold = [b, ref, np.where(pending, n_after, self.ref_n[b]), None]
            return self._fold[1], self._fold[2]
    rng = np.random.default_rng(11)
    n, tick = 4, 600.0
    kept = SeasonalFeatures(n, [3600.0, 3 * 7200.0, tick], tick, 3, keep=10)
    afresh = SeasonalFeatures(n, [3600.0, 3 * 7200.0, tick], tick, 3, keep=10)
    afresh.profiles = [Afresh(n, p.period, tick, 3) for p in kept.profiles]
    ts = np.arange(1, 400) * tick
    z = rng.normal(size=(len(ts), n))
    missing = rng.random((len(ts), n)) < 0.15
    missing[:, 3] |= (ts // 3600) % 4 == 1              # sensor 3 never seen in some cycles of a bin
    assert np.array_equal(kept.replay(ts, z, missing), afresh.replay(ts, z, missing))
    folds = 0
    for a, b in zip(kept.profiles, afresh.profiles):
        for k in ("ref", "ref_n", "acc_sum", "acc_n", "acc_cycle"):
            assert np.array_equal(getattr(a, k), getattr(b, k)), k
        assert a._how == b._how
        folds += int((a.ref_n >= MIN_CYCLES).any())
    assert folds == 3                                   # every period's references in use


def test_batch_scores_match_tick_scores_with_the_profile():
    rng = np.random.default_rng(1)
    n_ticks = int(5 * DAY / TICK)
    ts = np.arange(n_ticks) * TICK
    z = (np.sin(2 * np.pi * ts / DAY) + 0.1 * rng.normal(size=n_ticks))[:, None]
    miss = np.zeros_like(z, bool)
    cut = int(3 * DAY / TICK)
    sc = NumpyScorer(1, np.zeros((1, 1)), NumpyScorerConfig(), tick_s=TICK, steps=16)
    sc.fit(z[:cut], miss[:cut], ts[:cut])
    batch = sc.batch_scores(z, miss, 16, ts)
    buf = WindowBuffer(16, 1)
    for t in range(cut - 16, cut):
        buf.push(z[t], miss[t], ts[t])
    tick = []
    for t in range(cut, cut + 50):
        buf.push(z[t], miss[t], ts[t])
        tick.append(sc.score(buf).sensor_scores)      # no learning: the fit state scores every tick
    # batch_scores rebuilt the same seasonal regressors from an empty profile over the block
    np.testing.assert_allclose(np.array(tick)[:, 0], batch[cut - sc.ar.p:cut - sc.ar.p + 50, 0], atol=1e-6)


def daily_steps(days: int, jump_at: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A level that steps up at 09:00 and down at 18:00 every day, a little noise; optionally an
    unscheduled jump of the same size at `jump_at` (seconds) lasting two hours."""
    rng = np.random.default_rng(2)
    ts = np.arange(int(days * DAY / TICK)) * TICK
    tod = ts % DAY
    x = np.where((tod >= 9 * 3600) & (tod < 18 * 3600), 80.0, 20.0) + 0.5 * rng.normal(size=ts.size)
    if jump_at is not None:
        x[(ts >= jump_at) & (ts < jump_at + 7200)] += 60.0
    return ts, x


def run_agent(ts, x, periods) -> list:
    cfg = config.from_dict({
        "sensors": ["a"], "sources": [{"type": "stdin"}], "tick_s": TICK, "topology": "none",
        "window": {"steps": 16}, "warmup": {"ticks": int(3 * DAY / TICK)}, "sinks": [],
        "scoring": {"chain": ["numpy"], "numpy": {"seasonal_periods_s": periods}},
    })
    pipe = Pipeline(cfg)
    opened = []
    for t, v in zip(ts, x):
        res = pipe.step(Row(ts=float(t), values=np.array([v]), missing=np.zeros(1, bool),
                            carried=np.zeros(1, bool)))
        opened += [ev.ts for ev in res.alerts if ev.event == "new"]
    return opened


def test_scheduled_daily_changes_stop_alerting_unscheduled_ones_do_not():
    ts, x = daily_steps(7)
    assert len(run_agent(ts, x, [])) >= 4               # no clock: each 09:00 / 18:00 step surprises
    assert run_agent(ts, x, [DAY]) == []                 # with the profile: nothing to report
    jump = 5 * DAY + 3 * 3600                            # 03:00 on day 6, no step is due
    ts, x = daily_steps(7, jump_at=jump)
    opened = run_agent(ts, x, [DAY])
    assert opened and all(jump <= t <= jump + 7200 + 3600 for t in opened)


def test_markov_counts_learn_every_tick_including_anomalous_ones():
    sc = NumpyScorer(1, np.zeros((1, 1)), NumpyScorerConfig(seasonal_periods_s=[]), tick_s=1.0, steps=8)
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 1))
    miss = np.zeros_like(z, bool)
    sc.fit(z, miss)
    buf = WindowBuffer(8, 1)
    for t in range(8):
        buf.push(z[t], miss[t], float(t))
    before = sc.markov.rowsum.sum()
    buf.push(np.array([9.0]), miss[0], 8.0)              # an outlier the Pipeline would not learn
    sc.score(buf)
    sc.observe(buf)
    assert sc.markov.rowsum.sum() > before


def test_seasonal_config_is_validated():
    with pytest.raises(config.ConfigError, match=r"scoring\.numpy\.seasonal_periods_s\[0\]"):
        config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}],
                          "scoring": {"numpy": {"seasonal_periods_s": [10]}}})
    with pytest.raises(config.ConfigError, match="seasonal_memory_cycles"):
        config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}],
                          "scoring": {"numpy": {"seasonal_memory_cycles": 0}}})
