"""A bundle's tier without a normal profile says which reason it is (user30). configs/industrial.yaml pins
`scoring.profile` off; its start said `tflite: no normal profile (disabled, or fewer than 100 warm-up ticks)` after a
warm-up of 172,800 ticks, and a user could not tell which. The running agent's Pipeline on the demo config (its
profile pinned off, then on with a warm-up shorter than profile.min_ticks). Torch-free."""
from __future__ import annotations

import logging

import pytest

pytest.importorskip("ai_edge_litert")

from conftest import DEMO_BUNDLE, NO_DEMO, demo_cfg, drive_hotswap as drive, hotswap_pipeline as setup, sim_rows  # noqa: E402

pytestmark = NO_DEMO


def test_a_profile_switched_off_is_said_to_be(tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.2)
    pipe, swap, _ = setup(tmp_path, bundle=DEMO_BUNDLE)
    with caplog.at_level(logging.INFO, logger="stad.pipeline"):
        drive(pipe, swap, rows, until=lambda: True)
    said = [r.getMessage() for r in caplog.records if "no normal profile" in r.getMessage()]
    assert said and said[0].startswith("tflite: no normal profile (scoring.profile.enabled is false); bundle "
                                       "threshold "), said


def test_too_few_ticks_for_a_profile_are_said_to_be(tmp_path, caplog):
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.2)
    pipe, swap, _ = setup(tmp_path, bundle=DEMO_BUNDLE, profile={"enabled": True, "min_ticks": 10_000})
    with caplog.at_level(logging.INFO, logger="stad.pipeline"):
        drive(pipe, swap, rows, until=lambda: True)
    said = [r.getMessage() for r in caplog.records if "no normal profile" in r.getMessage()]
    assert said and said[0].startswith("tflite: no normal profile (300 warm-up ticks, fewer than the 10046 a profile "
                                       "is fitted on); bundle threshold "), said      # (user40: the rule's number)
