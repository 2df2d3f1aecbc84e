"""threshold.discord_ticks: a sensor's latest stretch farther in shape from every earlier one than any
stretch since the warm-up is a path to an alert (agent/discord.py) — a shape never seen before inside
the stream's range, where the forecaster's error stays ordinary."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.config import ConfigError
from agent.discord import EXACT_EVERY, MIN_DISCORDS, RECORD_FROM, DiscordWatch, judged_level
from agent.pipeline import Pipeline
from agent.window import Row

from conftest import shared_dataset, threshold_problems, through_file

NAB_FILE = Path("realAdExchange") / "exchange-4_cpc_results.csv"
NAB_DISK = shared_dataset("nab", Path("data") / NAB_FILE)
PERIOD = 48          # ticks of the synthetic stream's cycle
ODD = (1488, 1536)   # ticks of the odd stretch: the same range, another shape
NOISE = 0.3          # the noise σ (the cycle's amplitude is 1)


def brute_discord(x: np.ndarray, m: int, history: int) -> float:
    """The definition, written out: z-normalised distance (per √m) from the last m values to the
    nearest subsequence ending t−history..t−m; flat ones 0 to each other and 1 to any other."""
    t = len(x) - 1

    def z(s):
        sd = s.std()
        return None if sd <= 1e-12 * (1 + abs(s.mean())) else (s - s.mean()) / sd

    q = z(x[t - m + 1:])
    best = np.inf
    for end in range(max(m - 1, t - history), t - m + 1):
        s = z(x[end - m + 1:end + 1])
        if q is None or s is None:
            d = 0.0 if q is None and s is None else 1.0
        else:
            d = np.sqrt(max(0.0, ((q - s) ** 2).sum() / m))
        best = min(best, d)
    return float(best) if np.isfinite(best) else float("nan")


def test_the_discord_is_the_distance_to_the_nearest_earlier_shape():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=400))
    x[150:175] = 7.0                                  # a flat stretch: the flat rules are exercised
    m, history = 8, 60
    watch = DiscordWatch(1, m, history)
    for t, v in enumerate(x):
        watch.step(np.array([v]), np.array([True]))
        want = brute_discord(x[:t + 1], m, history) if t + 1 >= 2 * m else float("nan")
        got = watch.discord(0)
        assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want, abs=1e-7), t


def test_the_updated_dot_products_keep_the_definition_through_recomputes_jumps_and_a_restore():
    """Once the history is full the dot products follow from the last tick's (STOMP's update); across
    more than EXACT_EVERY readings, a level jump far beyond the spread (the readings recentred), flat
    stretches and a restore in the middle, every discord is still the definition's."""
    rng = np.random.default_rng(5)
    n = EXACT_EVERY + 400
    x = np.sin(np.arange(n) / 5.0) + 0.2 * rng.normal(size=n)
    x[500:] += 1e5                                     # a level far from the centre of the first dot products
    x[700:712] = x[699]                                # a flat stretch
    m, history = 8, 60
    watch = DiscordWatch(1, m, history)
    updated = 0
    for t, v in enumerate(x):
        watch.step(np.array([v]), np.array([True]))
        if t == 900:                                   # a restart: the dot products are computed afresh
            resumed = DiscordWatch(1, m, history)
            resumed.restore(through_file({"d": watch.state_dict()})["d"])
            watch = resumed
        if t + 1 >= 2 * m:
            got = watch.discord(0)
            updated += watch.updates[0] > 0
            assert got == pytest.approx(brute_discord(x[:t + 1], m, history), abs=1e-6), t
    assert updated > n // 2                            # most of them by the update, not afresh


def test_a_record_is_judged_only_after_the_first_discords_set_it():
    rng = np.random.default_rng(4)
    watch = DiscordWatch(1, 6, 200)
    flags = [bool(watch.step(rng.normal(size=1), np.array([True]))[0]) for _ in range(RECORD_FROM + MIN_DISCORDS)]
    # the first RECORD_FROM readings make no discord that counts, the next MIN_DISCORDS only set the record
    assert not any(flags) and watch.judged[0] == MIN_DISCORDS and watch.seen[0] == RECORD_FROM + MIN_DISCORDS
    assert not watch.step(np.array([np.nan]), np.array([False]))[0]      # a missing reading is not judged
    assert watch.judged[0] == MIN_DISCORDS and watch.seen[0] == RECORD_FROM + MIN_DISCORDS
    later = [bool(watch.step(rng.normal(size=1), np.array([True]))[0]) for _ in range(2000)]
    assert 0 < sum(later) < 10                     # plain noise: a record now and then, ever rarer


def test_the_judged_level_lets_the_tick_pass_but_not_at_once():
    s = np.array([0.5, 2.0, 3.0])
    level = judged_level(s, 3.0, np.array([False, True, False]), instant_factor=1.5)
    assert 2.0 < level * 1.5 and level < 3.0 and 3.0 <= 1.5 * level      # above it, not 1.5 × above it
    assert judged_level(np.array([0.0, 2.0]), 2.0, np.array([True, False]), 1.5) is None   # a quieted sensor


def stream(n: int, odd: bool, seed: int = 0) -> list[Row]:
    """A cycle of PERIOD ticks with a little noise; with `odd`, ticks ODD follow a cycle three times as
    fast, within the same range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / PERIOD)
    if odd:
        lo, hi = ODD
        x[lo:hi] = np.sin(2 * np.pi * 3 * t[lo:hi] / PERIOD)
    x = 10 + x + NOISE * rng.normal(size=n)
    none = np.zeros(1, bool)
    return [Row(ts=1e9 + 300.0 * i, values=np.array([v]), missing=none, carried=none) for i, v in enumerate(x)]


def cfg(discord_ticks: int):
    return config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "tick_s": 300,
                             "warmup": {"ticks": 300}, "faults": {"enabled": False},
                             "alerts": {"cooldown_ticks": 100},
                             "threshold": {"discord_ticks": discord_ticks}})


def raised(pipe: Pipeline, rows: list[Row], first: int = 0, results: list | None = None) -> list[int]:
    out = []
    for i, r in enumerate(rows):
        res = pipe.step(r)
        if results is not None:
            results.append(res)
        out += [first + i for ev in res.alerts if ev.event == "new"]
    return out


def test_a_shape_never_seen_inside_the_range_alerts_before_the_forecaster_sees_it():
    for seed in (0, 1):
        odd, plain = stream(1800, odd=True, seed=seed), stream(1800, odd=False, seed=seed)
        ticks = []
        with_it, without = raised(Pipeline(cfg(PERIOD)), odd, results=ticks), raised(Pipeline(cfg(0)), odd)
        first = min(i for i in with_it if i >= ODD[0])
        # raised by the discord path: earlier than the forecaster's own alert (the stretch stays in the
        # range, and starts and ends where the cycle would), on a tick scored under the threshold
        assert first < min(i for i in without if i >= ODD[0]) and first < ODD[1], (with_it, without)
        assert ticks[first].score < ticks[first].threshold
        # a cycle seen before is never news: once the stream is a few days old, the plain stream
        # raises the same alerts with the discord and without
        on, off = raised(Pipeline(cfg(PERIOD)), plain), raised(Pipeline(cfg(0)), plain)
        assert [i for i in on if i >= 1000] == [i for i in off if i >= 1000]


def test_a_restart_resumes_the_discord_and_an_older_checkpoint_starts_it_afresh():
    rows = stream(1800, odd=True)
    running = Pipeline(cfg(PERIOD))
    raised(running, rows[:1000])
    restarted = Pipeline(cfg(PERIOD))
    restarted.restore(through_file(running.state_dict()))
    assert np.array_equal(restarted.discord.record, running.discord.record)
    assert raised(restarted, rows[1000:], 1000) == raised(running, rows[1000:], 1000) != []

    off = Pipeline(cfg(0))                          # a checkpoint written with the key off
    raised(off, rows[:1000])
    assert "discord" not in off.state_dict()
    switched_on = Pipeline(cfg(PERIOD))
    switched_on.restore(through_file(off.state_dict()))
    assert switched_on.discord.judged[0] == 0      # afresh: its first discords set the record again
    assert raised(switched_on, stream(1500, odd=False)[1000:1400], 1000) == []

    bad = running.state_dict()
    bad["discord"]["filled"] = np.array([-3])
    with pytest.raises(ValueError, match=r"discord: counts out of range"):
        Pipeline(cfg(PERIOD)).restore(through_file(bad))


def test_discord_ticks_is_checked_with_its_path(tmp_path):
    assert any(p.startswith("threshold.discord_ticks: 0 (off) or at least 4")
               for p in threshold_problems(tmp_path, "{discord_ticks: 2}"))
    assert any(p.startswith("threshold.discord_ticks: ") for p in threshold_problems(tmp_path, "{discord_ticks: 5000}"))
    with pytest.raises(ConfigError):
        config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "threshold": {"discord_ticks": -1}})


@pytest.mark.skipif(NAB_DISK is None, reason=f"needs the shared NAB copy ({NAB_FILE}) at /work/shared/data/nab "
                                              "or ../shared/data/nab (absent)")
def test_a_window_of_a_new_shape_on_nab_is_found_only_with_the_discord():
    """NAB's exchange-4_cpc_results, second window: a small rise in spread inside the range, that
    configs/nab.yaml without the discord misses (eleventh round)."""
    from agent.evaluate.runner import replay
    import bench.accuracy as acc
    path = NAB_DISK / "data" / NAB_FILE
    labels = NAB_DISK / "labels" / "combined_windows.json"
    found = {}
    for m in (0, 48):
        c = acc.nab_config(path, labels, acc.sampling_period_s(path), 32, [f"threshold.discord_ticks={m}"])
        run = replay(c, scorers=["numpy"])
        found[m] = [w["found_at"] for w in acc.nab_window_diagnosis(run.files[0], run.traces["numpy"][0])]
    assert found[0][1] is None and found[48][1] is not None
