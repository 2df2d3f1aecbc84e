"""The stop summary's `alerts raised N` and `sensor faults N` are this run's (user14's reproduction: `alerts raised 2
(events end: 1)` in a life that raised none — the alert tracker's count, carried across lives by the checkpoint and
the alert journal, printed beside this run's events). Health's `alerts_raised` stays the tracker's, across lives.

A real Agent (the daemon's class) on real CSV files: a first life warms up and raises one alert on a spike, its clean
stop writes the checkpoint; a second life resumes it on calm data and raises none."""
from __future__ import annotations

from two_sensor_csv import T0, base, write_csv

from agent.config import from_dict
from agent.service import Agent
from agent.stop_summary import format_summary


def test_a_resumed_life_that_raised_none_says_none(tmp_path):
    first = tmp_path / "first.csv"
    write_csv(first, T0, 400, seed=2, spike_at=300)
    lines = first.read_text().splitlines()
    for i in range(231, 261):          # b silent for 30 ticks after the warm-up: a sensor fault
        lines[i] = lines[i].rsplit(",", 1)[0] + ","
    first.write_text("\n".join(lines) + "\n")
    summary = Agent(from_dict(base(tmp_path, first), base_dir=str(tmp_path))).run()
    assert summary["alerts_raised"] == 1 and sum(summary["faults_raised"].values()) >= 1, format_summary(summary)
    assert "alerts raised 1 (events " in format_summary(summary)
    faults = summary["faults_raised"]

    calm = tmp_path / "calm.csv"
    write_csv(calm, T0 + 400, 200, seed=3)
    agent = Agent(from_dict(base(tmp_path, calm), base_dir=str(tmp_path)))
    assert agent.resumed is not None
    summary = agent.run()
    assert agent.events["new"] == 0 and summary["alerts_raised"] == 1      # health: the tracker's, across lives
    assert summary["faults_raised"] == faults
    line = format_summary(summary)
    # on the code before: "alerts raised 1 (events none); sensor faults 1 (missing: 1)" — the first life's, as this run's
    assert "; alerts raised 0 (events none); sensor faults 0 (none); " in line, line
