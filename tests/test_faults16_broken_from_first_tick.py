"""faults16: a sensor broken from its first tick — no history to compare it with — is one fault page, `never_varied`,
that says what the agent could judge and what it could not (agent/faults/never_varied.py).

Before (de0b376a), a station added with no column in `warmup.replay`'s recording whose loops read 0 from the first
tick, or a speed held at one number, was told nothing at all: `stuck` leaves a sensor that never varied alone (a
setpoint?), `dead` one whose normal level is 0, and the scorers leave a sensor with no normal unscored until it moves.
The same for any sensor of an agent warmed up on live ticks.

A real `python -m agent run` on real files (the corridor simulator's CSVs at 30-s ticks): a clean recorded day
without stations S01 and S06 (added since), then two live hours in which S06's three loops read 0 and S01_speed holds
its first reading, S01's flow and occupancy healthy. And a fresh agent with no recording, one loop held from its first
tick. Fault events from the jsonl sink, each checked against the shipped schema."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from agent.sources.lines import parse_time
from conftest import agent_env
from recorded_warmup import SENSORS, fault_events, write

LEARN_S = 3600.0            # faults.learn_s's default: the rule's bar
FIRST = "2026-01-05T08:00:00Z"


def _run(tmp_path: Path, warmup: dict) -> subprocess.CompletedProcess:
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({
        "tick_s": 30.0, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "replay", "path": "live.csv"}],
        "window": {"steps": 32, "carry_forward_s": 90}, "warmup": warmup,
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": "events.jsonl"}],
        "state_dir": "state"}))
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=agent_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _alerts(tmp_path: Path) -> list[dict]:
    lines = [json.loads(s) for s in (tmp_path / "events.jsonl").read_text().splitlines()]
    return [a for a in lines if a.get("event") in ("new", "update", "end")]


def _by_the_bar(f: dict) -> None:
    """Decided once `learn_s` of its readings is seen (two ticks of slack), not before `stuck_s`."""
    assert parse_time(FIRST) + 90 <= parse_time(f["ts"]) <= parse_time(FIRST) + LEARN_S + 60, f


def _says_what_it_could_not_judge(evidence: dict, value: float) -> None:
    """`value`: as simulated (the CSV holds it to 6 significant digits, the evidence to 4 decimals)."""
    assert evidence["value"] == round(float(f"{value:.6g}"), 4) and evidence["first_read"] == "2026-01-05T08:00:00.000Z", evidence
    assert "on every tick since it was first read" in evidence["summary"], evidence
    assert "cannot tell whether it is held, dead or constant by design" in evidence["summary"], evidence
    assert evidence["context_moved_ticks"] >= evidence["ticks"] / 2 and evidence["neighbours"], evidence


def test_a_station_added_broken_from_its_first_tick_is_one_page_not_silence(tmp_path):
    write(tmp_path / "clean" / "2026-01-04.csv", "2026-01-04T00:00:00Z", 24, seed=3,
          columns=[s for s in SENSORS if not s.startswith(("S01", "S06"))])
    held = {}

    def broken(values):
        values["S01_speed"] = held.setdefault("S01_speed", values["S01_speed"])
        for q in ("flow", "occ", "speed"):
            values[f"S06_{q}"] = 0.0
    write(tmp_path / "live.csv", FIRST, 2, seed=4, edit=broken)
    run = _run(tmp_path, {"ticks": 480, "replay": "clean"})
    assert "left out: S01_flow (no reading in them)" in run.stderr, run.stderr[-3000:]
    faults = fault_events(tmp_path)
    raised = [f for f in faults if f["event"] == "fault"]
    # S06: one station page, each loop `never_varied`, each one's evidence saying what was and was not judged
    s06 = [f for f in raised if f["group"] == "S06"]
    assert len(s06) == 1 and s06[0]["kind"] == "station", [(f["sensor"], f["kind"]) for f in raised]
    assert s06[0]["evidence"]["kinds"] == {f"S06_{q}": "never_varied" for q in ("flow", "occ", "speed")}, s06[0]
    for q in ("flow", "occ", "speed"):
        each = s06[0]["evidence"]["each"][f"S06_{q}"]
        _says_what_it_could_not_judge(each, 0.0)
        assert each["value"] == each["floor"] and set(each["neighbours"]) <= {f"S05_{q}"}, each  # (its mates not: suspects)
    _by_the_bar(s06[0])
    # S01_speed held at its first reading: its own page; its healthy mates nothing
    s01 = [f for f in raised if f["group"] == "S01"]
    assert [(f["sensor"], f["kind"]) for f in s01] == [("S01_speed", "never_varied")], s01
    _says_what_it_could_not_judge(s01[0]["evidence"], held["S01_speed"])
    _by_the_bar(s01[0])
    # said once: no update, no second page; ended only as the input ended
    assert not [f for f in faults if f["event"] == "fault_update"], faults
    assert {f["reason"] for f in faults if f["event"] == "fault_end" and f["group"] in ("S01", "S06")} == {"shutdown"}
    # and no incident alert names them
    assert not [a for a in _alerts(tmp_path)
                if any(t["sensor"].startswith(("S01", "S06")) for t in a.get("top_sensors") or [])]


def test_a_fresh_agent_warmed_up_on_live_ticks_pages_a_loop_held_from_its_first_tick(tmp_path):
    held = {}

    def broken(values):
        values["S03_occ"] = held.setdefault("S03_occ", values["S03_occ"])
    write(tmp_path / "live.csv", FIRST, 2, seed=5, edit=broken)
    _run(tmp_path, {"ticks": 60})
    raised = [f for f in fault_events(tmp_path) if f["event"] == "fault"]
    assert [(f["sensor"], f["kind"]) for f in raised] == [("S03_occ", "never_varied")], raised
    _says_what_it_could_not_judge(raised[0]["evidence"], held["S03_occ"])
    _by_the_bar(raised[0])


def test_a_restore_mid_judgement_pages_as_the_run_it_continues():
    """The rule's record (each sensor's first reading, whether it varied, its context's moves) is in the checkpoint:
    a Pipeline restored from a real checkpoint round trip before and after the page gives the unrestored events (the
    corridor bench's rows, S06_speed held at its first reading from the first row)."""
    import dataclasses

    import numpy as np

    from agent.config import from_dict
    from agent.pipeline import Pipeline
    from conftest import bench_module, through_file
    faults = bench_module("faults")
    cfg = from_dict(faults.config_dict("corridor", 7, 3))
    j = cfg.sensor_names().index("S06_speed")
    rows = faults.simulated_rows(cfg)[:200]
    first = rows[0].values[j]
    rows = [dataclasses.replace(r, values=np.where(np.arange(r.values.size) == j, first, r.values)) for r in rows]
    runs = []
    for restore_at in (None, 60, 125):
        pipe, out = Pipeline(cfg), []
        for k, row in enumerate(rows):
            if k == restore_at:
                state = through_file(pipe.state_dict())
                pipe = Pipeline(cfg)
                pipe.restore(state)
            out += [[k, {key: v for key, v in ev.to_dict().items() if key != "fault_id"}]
                    for ev in pipe.step(row).faults or []]
        runs.append(out)
    plain = runs[0]
    assert [(ev["sensor"], ev["kind"]) for _, ev in plain if ev["event"] == "fault"] == [("S06_speed", "never_varied")]
    assert runs[1] == plain and runs[2] == plain
