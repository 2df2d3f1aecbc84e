"""user36, a water utility's first week (docs/measured/first-week.md, the user36 round): what an operator met.

- `warmup.from:` (a recording to warm up on) said only `unknown key`: the key it meant, `replay`, was nowhere on the
  line. An unknown key no known one is close to now lists the keys of its mapping.
- A register map typo (a pump's vibration mapped to a spare register that reads 0) was told at the first score as an
  operating point elsewhere, with "move the checkpoint aside and start again" as the cure — which would have learnt
  the typo's 0 as normal — and its value as `5.156e-09`. A sensor held at one value through the first scored window
  is said on a line of its own, pointing at what it reads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import agent_env
from operating_point_pump import CONFIG as PUMP, T0


def check_config(directory: Path, text: str) -> subprocess.CompletedProcess:
    (directory / "agent.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "--static", "-c", "agent.yaml"],
                          cwd=directory, capture_output=True, text=True, timeout=120, env=agent_env())


def test_an_unknown_key_no_known_one_is_close_to_lists_the_keys_of_its_mapping(tmp_path):
    done = check_config(tmp_path, "sensors: [a, b]\nsources: [{type: stdin}]\nwarmup: {ticks: 40, from: normal}\n")
    assert done.returncode == 2, done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "warmup.from" in ln]
    assert line.endswith("warmup.from: unknown key (keys of warmup: ticks, counts, fit_fraction, held_out, "
                         "flat_sensors, replay, replay_format, replay_max_ticks)"), line
    # a close one is still the one named, alone
    done = check_config(tmp_path, "sensors: [a, b]\nsources: [{type: stdin}]\nwarmup: {ticks: 40, replya: x}\n")
    assert "warmup.replya: unknown key (did you mean 'replay'?)" in done.stderr, done.stderr


#: user14's pump (flow, current on stdin, warmed on hist.csv) with a vibration sensor beside them
CONFIG = PUMP.replace("  - {name: current, group: g}\n", "  - {name: current, group: g}\n  - {name: vib, group: g}\n")


def first_score_lines(directory: Path, vib: float | None, flow_level: float = 125.0, after: int = 600) -> list[str]:
    """A real `run` warmed on a recording of a pump (flow, current, vib moving); live, `vib` held at one value (None:
    moving as recorded) and the flow at `flow_level`: its 'first score' WARNINGs."""
    rng = np.random.default_rng(5)
    rows = ["timestamp,flow,current,vib"] + [
        f"{T0 + i},{125 + rng.normal(0, 1.5):.3f},{40 + rng.normal(0, 0.3):.3f},{2.3 + rng.normal(0, 0.16):.3f}"
        for i in range(600)]
    (directory / "hist.csv").write_text("\n".join(rows) + "\n")
    (directory / "agent.yaml").write_text(CONFIG)
    live = "".join(json.dumps({"ts": T0 + after + i, "values": {
        "flow": flow_level + rng.normal(0, 1.5), "current": 40 + rng.normal(0, 0.3),
        "vib": vib if vib is not None else 2.3 + rng.normal(0, 0.16)}}) + "\n" for i in range(60))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=directory, input=live,
                          capture_output=True, text=True, timeout=300, env=agent_env())
    assert done.returncode == 0 and "first tick" in done.stderr, done.stderr
    return [ln for ln in done.stderr.splitlines() if "first score:" in ln]


def test_a_sensor_held_at_one_value_at_the_first_score_is_not_told_as_an_operating_point(tmp_path):
    [line] = first_score_lines(tmp_path, vib=0.0)
    assert "WARNING" in line and "1 of 3 sensor(s) read one value on every tick of the first scored window" in line
    assert "vib (reads 0, normal 2.3" in line and "e-0" not in line, line
    assert "its address in the config: a register" in line, line
    assert "operating point" not in line and "warmup.replay" not in line and "checkpoint" not in line, line
    # a restart that resumes the checkpoint: the same, never "move the checkpoint aside"
    lines = first_score_lines(tmp_path, vib=0.0, after=700)
    assert len(lines) == 1 and "read one value on every tick" in lines[0], lines
    assert "move the checkpoint aside" not in lines[0], lines


def test_a_held_sensor_and_an_operating_point_elsewhere_are_said_each_with_its_own_cure(tmp_path):
    held, moved = first_score_lines(tmp_path, vib=0.0, flow_level=32.0)
    assert "vib (reads 0" in held and "flow" not in held.split("window")[1].split(";")[0], held
    assert "for 1 of 3 sensor(s): flow (live median 3" in moved and "vib" not in moved, moved
    assert f"warmup.replay is {tmp_path / 'hist.csv'}" in moved, moved


def test_a_bundle_delivered_to_an_agent_that_started_on_the_fallback_runs_with_the_plants_profile(tmp_path):
    """A gateway started before its bundle was trained (numpy alone), its bundle delivered into models_dir later:
    the bundle is fitted its normal profile on the plant's recent calm ticks, as one given at start is (swap1).
    Before, no recent ticks were kept by a chain of numpy alone, and the bundle ran raw for good: at the utility its
    alert on a blockage ended `cleared` 59 s in, the blockage going on. The real HotSwap, its load thread, the
    shipped demo bundle's copy (onnx: this gateway has no ai-edge-litert)."""
    pytest.importorskip("onnxruntime")
    import shutil

    from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, drive_hotswap, hotswap_pipeline, sim_rows, demo_cfg, variant
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.2)
    pipe, swap, models = hotswap_pipeline(tmp_path, chain=["onnx", "numpy"], shadow_ticks=10,
                                          profile={"enabled": True, "min_ticks": 100})
    before = drive_hotswap(pipe, swap, rows, until=lambda: True)
    assert pipe.chain.current.TYPE == "numpy"
    shutil.copytree(variant("demo-late", src=DEMO_BUNDLE, model_id="demo-late"), models / "late")
    drive_hotswap(pipe, swap, rows[HOTSWAP_WARMUP + len(before):], limit=400,
                  until=lambda: pipe.chain.switch_count > 0)
    assert swap.status()["last"]["accepted"], swap.status()["last"]
    swapped = pipe.chain.current.describe()
    assert swapped["model_id"] == "demo-late" and swapped["profile"]["fitted"], swapped["profile"]


def test_a_sensor_with_no_reading_in_the_window_is_neither_far_nor_held_and_warns_nothing():
    import warnings

    from agent.operating_point import far_sensors
    from agent.window import Normaliser
    values = np.zeros((16, 3))
    values[:, 1] = 20.0                     # held, far
    values[:, 2] = np.arange(16) + 20.0     # moving, far
    missing = np.zeros_like(values, bool)
    missing[:, 0] = True                    # no reading at all (masked as faulty, or its source away)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far = far_sensors(values, missing, Normaliser(np.zeros(3), np.ones(3)), ["a", "b", "c"])
    assert [(f.sensor, f.held) for f in far] == [("c", False), ("b", True)], far


def test_the_far_line_names_the_alert_continued_after_a_kill_with_its_ticks_lost(tmp_path):
    """A gateway's power cut mid-incident, its last checkpoint taken before the alert opened: the restart's first tick
    is the checkpoint's next one (the ticks after it were lost with the stop), before the alert's start, so the alert
    the journal continued was not taken as open since before this life; the far line told "move the checkpoint aside"
    with the blockage's alert open (user36). Real agent processes on a real UDP sender, kill -9."""
    import yaml

    from conftest import free_port, start_logged_agent, stop_agent, wait_for
    from udp_lives import SENSORS, Sender, write_config
    port = free_port()
    cfg = write_config(tmp_path, port)
    data = yaml.safe_load(cfg.read_text())
    data["checkpoint_s"] = 30                   # the incident comes right after one, the next long after it
    cfg.write_text(yaml.safe_dump(data))
    sender = Sender(port)
    jsonl, checkpoint = tmp_path / "alerts.jsonl", tmp_path / "state" / "checkpoint.bin"

    def new_alerts() -> list[dict]:
        return [e for e in map(json.loads, jsonl.read_text().splitlines()) if e.get("event") == "new"] \
            if jsonl.exists() else []
    try:
        proc = start_logged_agent(cfg, tmp_path, "run1")
        try:
            wait_for(checkpoint.exists, "run1: its first checkpoint", timeout=120, proc=proc)
            written = checkpoint.stat().st_mtime
            sender.shift = {s: 60.0 for s in SENSORS}          # the incident, after the checkpoint
            wait_for(new_alerts, "run1: the incident's alert", timeout=120, proc=proc)
            assert checkpoint.stat().st_mtime == written, "a checkpoint after the alert: not the case tested"
        finally:
            proc.kill()                                        # the power cut
            proc.wait(60)
        [alert] = new_alerts()
        proc = start_logged_agent(cfg, tmp_path, "run2")
        try:
            err2 = tmp_path / "run2.err"
            wait_for(lambda: "first score: the live data lies far" in err2.read_text(), "run2: the far line",
                     timeout=120, proc=proc)
        finally:
            stop_agent(proc)
    finally:
        sender.stop()
    text = err2.read_text()
    assert "skipped" in text and "lost with the stop" in text, text      # the ticks after the checkpoint: lost
    [line] = [ln for ln in text.splitlines() if "first score: the live data lies far" in ln]
    assert f"alert {alert['alert_id']}, open since" in line and "(before this start), is still open" in line, line
