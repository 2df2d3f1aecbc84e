"""`stad-convert build-demo --sim-seed S1 S2 …`: the demo bundle trained on several simulator seeds.

corridor22 trained its bundle A by hand on seeds 3101–3103, each its own segment; corridor23 made that the
product's command (convert.data.training_sources with a list of seeds). These tests check the data the
trainer gets — each seed's days exactly what that seed alone plays, on the same weekdays, its own segment
split by time on its own, no window across two seeds — without a training run (the full build is
docs/measured/accuracy-corridor.md's corridor23 round)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from agent.config import load  # noqa: E402
from convert.build_demo import build_demo  # noqa: E402
from convert.data import SEED_SPACING_DAYS, read_series, training_sources, window_starts  # noqa: E402
from convert.show import data_lines  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "configs" / "demo.yaml"
DAYS = 0.25                     # 720 ticks of 30 s a seed: enough for the split, seconds to simulate


def weekday(iso: str) -> int:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).weekday()


def test_each_seed_is_its_own_source_four_weeks_apart():
    cfg = load(DEMO)
    sources = training_sources(cfg, days=DAYS, seed=[3101, 3102, 3103])
    assert [s.seed for s in sources] == [3101, 3102, 3103]
    assert all(s.anomalies == [] and s.speed == 0.0 and s.duration_s == DAYS * 86400.0 for s in sources)
    starts = [dt.datetime.fromisoformat(s.start.replace("Z", "+00:00")) for s in sources]
    assert [(b - a).days for a, b in zip(starts, starts[1:])] == [SEED_SPACING_DAYS] * 2
    assert len({weekday(s.start) for s in sources}) == 1         # every seed plays the same weekdays
    one = training_sources(cfg, days=DAYS, seed=3101)            # one seed: the config's source as before
    assert len(one) == 1 and one[0] == sources[0]


def test_seeds_are_segments_with_each_seeds_own_data():
    cfg = load(DEMO)
    steps = cfg.window.steps
    series = read_series(cfg, training_sources(cfg, days=DAYS, seed=[3101, 3102]))
    assert len(series.segments) == 2
    split = series.split
    for lo, hi in ((0, split.train_end), (split.train_end, split.val_end), (split.val_end, split.n)):
        assert set(series.segment[lo:hi]) == {0, 1}             # each seed split 70 / 15 / 15 on its own
        starts = window_starts(series.segment, steps, lo, hi)
        assert len(starts) and (series.segment[starts] == series.segment[starts + steps - 1]).all()
        assert (np.diff(series.ts[starts[:, None] + np.arange(steps)], axis=1) == cfg.tick_s).all()
    for k, seed in enumerate((3101, 3102)):
        alone = read_series(cfg, training_sources(cfg, days=DAYS, seed=seed))
        rows = np.flatnonzero(series.segment == k)
        rows = rows[np.argsort(series.ts[rows], kind="stable")]
        n = len(alone)                  # the merged segment may hold a few carried-forward ticks past the end
        assert len(rows) >= n
        np.testing.assert_array_equal(series.raw[rows[:n]], alone.raw[np.argsort(alone.ts, kind="stable")])
        assert series.ts[rows[0]] == alone.ts.min() + k * SEED_SPACING_DAYS * 86400.0
    line = data_lines({"days": DAYS, "seed": [3101, 3102], "split": split.as_dict(),
                       "sources": [{"type": "simulate", "seed": 3101}, {"type": "simulate", "seed": 3102}]})[0]
    assert "seed 3101)" in line and "seed 3102)" in line


def test_several_seeds_refused_when_their_days_would_overlap():
    cfg = load(DEMO)
    with pytest.raises(ValueError, match="at most 27 days each"):
        training_sources(cfg, days=SEED_SPACING_DAYS - 0.5, seed=[1, 2])
    assert len(training_sources(cfg, days=SEED_SPACING_DAYS - 1, seed=[1, 2])) == 2
    with pytest.raises(ValueError, match="empty list"):
        training_sources(cfg, days=DAYS, seed=[])


def test_build_demo_refuses_a_bad_ema_decay_before_touching_the_output(tmp_path, capsys):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("not removed")
    assert build_demo(out=str(out), progress=False, sim_seeds=[3101, 3102], ema_decay=1.5) == 2
    assert "--ema-decay: must be in [0, 1), got 1.5" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "not removed"


def test_the_shipped_bundle_is_what_build_demo_builds_by_default():
    """corridor24 shipped bundle A: `stad-convert build-demo` with no arguments rebuilds it, so the bundle's
    manifest names build-demo's default seeds and moving average (one place: convert/build_demo.py)."""
    import json
    from convert.build_demo import DEFAULT_OUT, DEMO_EMA_DECAY, DEMO_SIM_SEEDS
    from convert.cli import _parser
    manifest = json.loads((DEFAULT_OUT / "manifest.json").read_text())
    assert manifest["data"]["seed"] == list(DEMO_SIM_SEEDS) == [3101, 3102, 3103]
    assert manifest["training"]["options"]["ema_decay"] == DEMO_EMA_DECAY == 0.99
    args = _parser().parse_args(["build-demo"])
    assert args.sim_seed is None and args.ema_decay is None      # cmd_build_demo falls back to the two above
