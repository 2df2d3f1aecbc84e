"""A model tier restored without its normal profile gets it fitted on the recent ticks (user37; user36's utility).

A bundle swapped in before user36's fix (delivered into models_dir to an agent started on numpy: no recent ticks to
fit on) ran without its profile, and its checkpoint held the model state with `profile: None` under the same bundle
and `scoring.profile`; every restart restored it so (nothing prepared: same bundle, same profile) and it ran raw for
good — health `model.profile.fitted: false`, a held blockage's alert `cleared` after 59 s. Now the restore fits it
on the checkpoint's recent ticks when they hold what a profile needs, or once the live ticks have filled them; a
tier whose profile cannot fit on what is kept is said once and left scoring as it did. The real pipeline over two
lives through the checkpoint's own bytes; the shipped demo bundle (onnx)."""
from __future__ import annotations

import logging

import pytest

pytest.importorskip("onnxruntime")

from conftest import NO_DEMO, demo_cfg, sim_rows  # noqa: E402

from agent.bundle import read_manifest  # noqa: E402
from agent.checkpoint import decode, encode  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

pytestmark = NO_DEMO
WARMUP = 300


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return sim_rows(demo_cfg(tmp_path_factory.mktemp("rows")), days=0.4)


def cfg(tmp, min_ticks: int = 100):
    return demo_cfg(tmp, warmup_ticks=WARMUP, chain=["onnx", "numpy"], profile={"enabled": True,
                                                                                 "min_ticks": min_ticks})


def first_life(tmp, rows, min_ticks: int = 100, drop_profile: bool = True) -> tuple[dict, int]:
    """Life 1 through its warm-up and 50 live ticks; its checkpoint's bytes read back, the onnx tier's profile
    dropped as a swap with no recent ticks left it (user36's checkpoint). The state and the rows fed."""
    pipe = Pipeline(cfg(tmp, min_ticks))
    fed = WARMUP + 50
    for r in rows[:fed]:
        pipe.step(r)
    assert pipe.warm and pipe.chain.current.TYPE == "onnx"
    _, state = decode(encode({}, pipe.state_dict()))
    if drop_profile:
        state["models"]["onnx"]["profile"] = None
    return state, fed


def test_a_tier_restored_without_its_profile_is_fitted_on_the_checkpoints_recent_ticks(tmp_path, rows, caplog):
    state, fed = first_life(tmp_path / "one", rows)
    second = Pipeline(cfg(tmp_path / "two"))
    with caplog.at_level(logging.INFO):
        second.restore(state)
    tier = second.chain.current
    # on 8d34bc91: restored with `fitted: false`, the bundle's own threshold, and so after every restart
    assert tier.TYPE == "onnx" and tier.describe()["profile"]["fitted"], tier.describe()["profile"]
    assert second.thresholds["onnx"].value != pytest.approx(read_manifest(tier.bundle.path).threshold["value"],
                                                             rel=1e-3)
    assert f"the model tier (onnx) was restored without its normal profile: fitted on {WARMUP} recent ticks" \
        in caplog.text
    results = [second.step(r) for r in rows[fed:fed + 30]]
    assert all(r.tier == "onnx" for r in results)


def test_a_tier_whose_profile_cannot_fit_on_what_is_kept_is_said_once_and_left_as_it_scored(tmp_path, rows, caplog):
    # min_ticks 400: the 300 warm-up ticks (and the recent ticks kept, as many) fit no profile, at warm-up or later
    state, fed = first_life(tmp_path / "one", rows, min_ticks=400, drop_profile=False)
    assert state["models"]["onnx"]["profile"] is None
    second = Pipeline(cfg(tmp_path / "two", min_ticks=400))
    with caplog.at_level(logging.INFO):
        second.restore(state)
        threshold = second.thresholds["onnx"].value
        results = [second.step(r) for r in rows[fed:fed + 60]]
    assert not second.chain.current.describe()["profile"]["fitted"]
    assert all(r.tier == "onnx" for r in results)        # not prepared again: no fallback while waiting
    assert second.thresholds["onnx"].value == pytest.approx(threshold)
    said = [m for m in caplog.messages if "restored without a normal profile" in m]
    assert len(said) == 1 and "are fewer than the 446 a profile is fitted on" in said[0], said


def test_a_tier_restored_without_its_profile_is_fitted_once_the_live_ticks_have_filled_the_recent_ones(
        tmp_path, rows, caplog):
    state, fed = first_life(tmp_path / "one", rows)
    state.pop("recent")         # a checkpoint without the recent ticks: they fill from the live ticks
    second = Pipeline(cfg(tmp_path / "two"))
    with caplog.at_level(logging.INFO):
        second.restore(state)
        assert not second.chain.current.describe()["profile"]["fitted"]
        need = 146         # min_ticks after a window's context (31) and the levels' settling (15): user40
        for r in rows[fed:fed + need - 1]:
            second.step(r)
        assert not second.chain.current.describe()["profile"]["fitted"]
        for k, r in enumerate(rows[fed + need - 1:fed + WARMUP], need):      # (the recent ticks hold WARMUP)
            second.step(r)
            if second.chain.current.describe()["profile"]["fitted"]:
                break
    assert second.chain.current.describe()["profile"]["fitted"], caplog.text
    assert k == need, k        # as soon as a profile could be fitted (user40: it said 132, and fitted at 300)
    assert any(f"it is fitted once the recent ticks hold {need} (0 now" in m for m in caplog.messages), caplog.text
