"""A changed `threshold.risk` or `warmup.replay` at a start that resumes a checkpoint is said in one INFO line: what
the checkpoint keeps and when the new value acts (user14 left it: nothing said when, or whether, they applied).

A real Agent (the daemon's class) on real CSV files: a first life warms up and its clean stop writes the checkpoint;
a second life resumes it with the setting changed (or not: no line)."""
from __future__ import annotations

import logging

import pytest
from two_sensor_csv import T0, base, write_csv

from agent.config import from_dict
from agent.service import Agent


@pytest.fixture
def first_life(tmp_path):
    live = tmp_path / "first.csv"
    write_csv(live, T0, 300, seed=2)
    agent = Agent(from_dict(base(tmp_path, live), base_dir=str(tmp_path)))
    agent.run()
    assert agent.pipeline.warm and (tmp_path / "state" / "checkpoint.bin").exists()
    return tmp_path


def second_life(tmp_path, caplog, **keys) -> list[str]:
    calm = tmp_path / "calm.csv"
    write_csv(calm, T0 + 300, 50, seed=3)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="stad")
    agent = Agent(from_dict({**base(tmp_path, calm), **keys}, base_dir=str(tmp_path)))
    assert agent.resumed is not None
    agent.run()
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("checkpoint resumed: ")]


def test_a_changed_risk_says_the_checkpoint_keeps_the_threshold_and_it_acts_at_calm_ticks(first_life, caplog):
    [line] = second_life(first_life, caplog, threshold={"risk": 0.01})
    assert line.startswith("checkpoint resumed: threshold.risk changed since the checkpoint (numpy 0.001 -> 0.01): "
                           "the checkpoint keeps each threshold's value and what it learned; the new risk acts "
                           "where the threshold learns, at calm ticks"), line
    assert "not while an alert is open" in line, line


def test_a_changed_risk_with_adapt_off_says_it_does_not_act(first_life, caplog):
    [line] = second_life(first_life, caplog, threshold={"risk": 0.01, "adapt": False})
    assert "(numpy 0.001 -> 0.01): it does not act: threshold.adapt is off" in line, line


def test_a_changed_replay_says_it_is_not_read(first_life, caplog):
    recorded = first_life / "recorded"
    recorded.mkdir()
    write_csv(recorded / "normal.csv", T0 - 400, 300, seed=1)
    d = base(first_life, first_life / "calm.csv", replay=str(recorded))
    [line] = second_life(first_life, caplog, warmup=d["warmup"])
    assert line == (f"checkpoint resumed: warmup.replay changed since the checkpoint (none -> {recorded}): not read "
                    "while a checkpoint resumes, which keeps what its warm-up learned; a start without one warms up "
                    "on it (move state_dir/checkpoint.bin aside)"), line


def test_nothing_changed_nothing_said(first_life, caplog):
    assert second_life(first_life, caplog) == []


def test_changed_warm_up_fit_settings_say_they_act_only_at_a_warm_up(first_life, caplog):
    """warmup.ticks and threshold.init_quantile are read by the warm-up's fit alone: a resume keeps the fit (user16)."""
    d = base(first_life, first_life / "calm.csv")
    [line] = second_life(first_life, caplog, warmup={**d["warmup"], "ticks": d["warmup"]["ticks"] + 50},
                         threshold={"init_quantile": 0.95})
    assert line.startswith("checkpoint resumed: the warm-up's fit settings changed since the checkpoint ("), line
    assert f"warmup.ticks {d['warmup']['ticks']} -> {d['warmup']['ticks'] + 50}" in line, line
    assert "threshold.init_quantile (numpy) 0.98 -> 0.95" in line, line
    assert line.endswith("read only by a warm-up's fit, which the checkpoint keeps — they act at a start without one "
                         "(move state_dir/checkpoint.bin aside)"), line
