"""Checkpoints: the learned state survives a restart and resumes exactly; damaged or foreign
checkpoints are refused with one line saying why; an alert left open by kill -9 is continued
under its id (or ended, reason restart); the last event reaches every sink once; a swapped-in
bundle is still active after a restart."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import logging
import re
import shutil
import signal
import struct
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.alerts import AlertEvent
from agent.checkpoint import CHECKPOINT_FILE, CheckpointRefused, decode, encode, mismatch
from agent.pipeline import Pipeline
from agent.service import Agent
from agent.sinks.jsonl import JsonlSink
from agent.typed import ConfigError
from agent.window import Row
from conftest import NO_DEMO, ar1_rows, demo_cfg, through_file
from conftest import sim_rows as sim_rows_of
from payloads import check
from pump_health_config import pump_config
from restart_helpers import (AgentProcess, alert_lines, check_alert_stream, copy_run, killed_after_tick_173, row,
                             wait_for, write_config)
from fault_states import text as state_text

SENSORS = ["P1_flow", "P1_temp", "P1_press", "P2_flow", "P2_temp", "P2_press"]


def pipeline_cfg(**over):
    d = {"sensors": SENSORS, "sources": [{"type": "stdin"}], "tick_s": 10, "topology": "group",
         "window": {"steps": 16}, "warmup": {"ticks": 80}, "scoring": {"chain": ["numpy"]},
         "alerts": {"min_duration_ticks": 2, "clear_ticks": 3, "update_interval_s": 20}}
    d.update(over)
    return config.from_dict(d)


def sim_rows(n: int, seed: int = 0) -> list[Row]:
    """Station P1 as a whole 25 up over ticks 150–190; 2 % of readings missing."""
    return ar1_rows(n, len(SENSORS), seed, (150, 190, 25.0), np.arange(len(SENSORS)) < 3, 0.02)


def without_life(event) -> dict:
    d = event.to_dict()
    d["alert_id"] = d["alert_id"].rsplit("-", 1)[0]
    return d


# ---- the file format ----------------------------------------------------------------------------

def test_format_round_trip_keeps_every_array_and_value():
    state = {"f8": np.arange(6, dtype=np.float64).reshape(2, 3) / 3, "f8_narrow": np.array([1.5, np.nan, -2.0]),
             "f4": np.ones(3, np.float32),
             "i8": np.array([-(2**62), 5]), "i1": np.array([0, 1, 2], np.int8), "b": np.array([True, False]),
             "empty": np.zeros((0, 4)), "nested": {"list": [1, 2.5, None, "x", {"deep": np.full(2, np.nan)}]},
             "scalar": np.float64(3.25)}
    meta, back = decode(encode({"config": {"k": 1}}, state))
    assert meta == {"config": {"k": 1}}
    for key in ("f8", "f8_narrow", "f4", "i8", "i1", "b", "empty"):
        assert back[key].dtype == state[key].dtype and back[key].shape == state[key].shape
        assert np.array_equal(back[key], state[key], equal_nan=True)
    assert back["nested"]["list"][:4] == [1, 2.5, None, "x"] and np.isnan(back["nested"]["list"][4]["deep"]).all()
    assert back["scalar"] == 3.25


def _craft(header: dict, body: bytes = b"", version: int = 1) -> bytes:
    text = json.dumps(header).encode()
    head = struct.pack("<8sIQQ", b"STADCKPT", version, len(text), len(body))
    return head + text + body + hashlib.sha256(head + text + body).digest()


def test_no_object_arrays_in_or_out_so_a_checkpoint_cannot_run_code():
    with pytest.raises(TypeError, match="dtype"):
        encode({}, {"x": np.array([object()], dtype=object)})
    crafted = _craft({"meta": {}, "state": {"x": {"__ndarray__": ["|O", [1], 0, "|O"]}}}, b"\0" * 8)
    with pytest.raises(CheckpointRefused, match="dtype '|O' is not allowed"):
        decode(crafted)


def test_damaged_files_are_refused_saying_why():
    good = encode({"config": {}}, {"w": np.ones((4, 4))})
    cases = {
        good[:len(good) // 2]: rf"truncated: {len(good) // 2} of {len(good)} bytes",
        good[:10]: "truncated: 10 bytes, not even a header",
        good[:60] + bytes([good[60] ^ 0x40]) + good[61:]: "corrupt: sha256 mismatch",
        good + b"x": "corrupt: 1 unexpected bytes after the end",
        b"PK\x03\x04" + good[4:]: r"not a checkpoint file \(bad magic\)",
        _craft({"meta": {}, "state": {}}, version=2): "format version 2; this agent reads version 1",
        _craft({"meta": {}, "state": {"a": {"__ndarray__": ["<f8", [4], 0, "<f8"]}}}, b"\0" * 8): "outside the file",
    }
    for data, why in cases.items():
        with pytest.raises(CheckpointRefused, match=why):
            decode(data)


def test_a_checkpoint_for_another_config_is_refused_naming_the_difference():
    from agent.checkpoint import fingerprint
    from agent.topology import adjacency

    def fp(cfg, bundle=None):
        return fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), bundle)

    base = fp(pipeline_cfg())
    assert mismatch(base, fp(pipeline_cfg())) is None
    assert mismatch(base, fp(pipeline_cfg(sensors=SENSORS + ["P3_flow"]))) == "sensors differ (added P3_flow)"
    assert mismatch(base, fp(pipeline_cfg(sensors=SENSORS[::-1]))) == "the sensors are in another order"
    assert mismatch(base, fp(pipeline_cfg(tick_s=30))) == "tick_s is 30.0, the checkpoint was taken with 10.0"
    assert mismatch(base, fp(pipeline_cfg(window={"steps": 32}))) == \
        "window.steps is 32, the checkpoint was taken with 16"
    assert mismatch(base, fp(pipeline_cfg(topology="none"))) == "the topology (neighbours) changed"
    model = {"model_id": "m1", "path": "/x/m1", "sha256": "ab" * 32}
    assert mismatch(base, fp(pipeline_cfg(), model)) == \
        "the model differs: checkpoint taken with no bundle, the agent starts with m1 (/x/m1)"


def test_checkpoint_s_is_validated_with_its_key_path():
    with pytest.raises(ConfigError, match=r"checkpoint_s: must be >= 1, got 0"):
        pipeline_cfg(checkpoint_s=0)
    with pytest.raises(ConfigError, match=r"checkpoint_s: expected a number"):
        pipeline_cfg(checkpoint_s="5m")
    assert pipeline_cfg().checkpoint_s == 300.0


# ---- the pipeline's state ---------------------------------------------------------------------

@pytest.mark.parametrize("seasonal", [[], [60.0], [86400.0]], ids=["no-profile", "1-min-profile", "daily"])
def test_a_restored_pipeline_scores_exactly_like_one_that_kept_running(seasonal):
    cfg = pipeline_cfg(scoring={"chain": ["numpy"], "numpy": {"seasonal_periods_s": seasonal}})
    rows = sim_rows(260)
    running = Pipeline(cfg)
    for r in rows[:140]:
        running.step(r)
    restarted = Pipeline(cfg)
    restarted.restore(through_file(running.state_dict()))
    assert restarted.warm and restarted.ticks == 140
    events = 0
    for r in rows[140:]:
        a, b = running.step(r), restarted.step(r)
        assert not b.warming and a.score == b.score and a.threshold == b.threshold
        assert np.array_equal(a.sensor_scores, b.sensor_scores)
        # The same events; a new alert's id ends in its agent life's suffix, which is new after a restart.
        assert [without_life(e) for e in a.alerts] == [without_life(e) for e in b.alerts]
        events += len(a.alerts)
    assert events >= 2          # the step at 150..175 opened and ended an alert on both


def test_warm_up_goes_on_from_where_it_was():
    cfg = pipeline_cfg()
    rows = sim_rows(140)
    running = Pipeline(cfg)
    for r in rows[:50]:
        running.step(r)
    restarted = Pipeline(cfg)
    restarted.restore(through_file(running.state_dict()))
    assert not restarted.warm and len(restarted.warmup) == 50
    for r in rows[50:]:
        a, b = running.step(r), restarted.step(r)
        # Warm at the same tick. Not the same scores: the sensor-fault tracker (agent/faults), which
        # masks warm-up rows, is not checkpointed and learns its context again.
        assert a.warming == b.warming and (a.warming or np.isfinite(b.score))
    assert restarted.warm


def test_an_alert_open_in_the_state_goes_on_with_its_id_and_seq():
    cfg = pipeline_cfg(alerts={"min_duration_ticks": 2, "clear_ticks": 3, "update_interval_s": 10000})
    rows = sim_rows(260)
    running = Pipeline(cfg)
    opened = []
    for r in rows[:162]:
        opened += running.step(r).alerts
    assert running.alerts.active and [e.event for e in opened] == ["new"]
    restarted = Pipeline(cfg)
    restarted.restore(through_file(running.state_dict()))
    assert restarted.after_restart(rows[162].ts, 10.0) == []
    later = [e for r in rows[162:] for e in restarted.step(r).alerts]
    assert later[0].event == "update" and later[0].seq == 1 and later[0].gap_s == 10.0
    assert later[0].alert_id == opened[0].alert_id and later[-1].event == "end"
    assert all(e.gap_s is None for e in later[1:])
    # A gap longer than the window: nothing left to judge it by.
    again = Pipeline(cfg)
    again.restore(through_file(running.state_dict()))
    [end] = again.after_restart(rows[162].ts + 1000, 1000.0)
    assert (end.event, end.reason, end.seq, end.gap_s) == ("end", "restart", 1, 1000.0)
    assert not again.alerts.active


def test_a_state_that_does_not_fit_changes_nothing():
    cfg = pipeline_cfg()
    running = Pipeline(cfg)
    for r in sim_rows(100):
        running.step(r)
    state = through_file(running.state_dict())
    state["numpy"]["fusion"]["rls"]["A"] = state["numpy"]["fusion"]["rls"]["A"][:3]
    fresh = Pipeline(cfg)
    with pytest.raises(ValueError, match=r"fusion.rls.A: shape \(3, 4, 4\), expected \(6, 4, 4\)"):
        fresh.restore(state)
    assert not fresh.warm and fresh.ticks == 0 and fresh.normaliser is None


@NO_DEMO
def test_a_model_tier_that_does_not_fit_leaves_the_tiers_before_it_as_they_were(tmp_path):
    # Each model tier validates its own state before changing anything, but the tiers are restored one
    # after the other: on the old code a state whose onnx part did not fit had already been put into
    # the tflite tier, which then warmed up afresh with the other run's rings, residual and profile.
    # Both tiers loaded (the agent's own chain keeps onnx on standby, unloaded and stateless, until tflite fails).
    from agent import bundle as bundles
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer
    from conftest import DEMO_BUNDLE

    def loaded():
        return [TfliteScorer(bundles.load(DEMO_BUNDLE)), OnnxScorer(bundles.load(DEMO_BUNDLE))]

    cfg = demo_cfg(tmp_path, warmup_ticks=60)
    running = Pipeline(cfg, tiers=loaded())
    for r in sim_rows_of(cfg, days=0.03):
        running.step(r)
    assert running.warm and [t.TYPE for t in running.chain.tiers] == ["tflite", "onnx", "numpy"]
    state = through_file(running.state_dict())
    models = state["models"]
    models["tflite"]["residual"] = 2.0 * models["tflite"]["residual"]        # fits
    models["onnx"]["residual"] = -models["onnx"]["residual"]                 # does not: not positive
    fresh = Pipeline(cfg, tiers=loaded())
    before = encode({}, fresh.chain.tiers[0].state_dict())
    with pytest.raises(ValueError, match="onnx.residual"):
        fresh.restore(state)
    assert encode({}, fresh.chain.tiers[0].state_dict()) == before
    assert not fresh.warm and fresh.ticks == 0


# ---- sinks after a crash ----------------------------------------------------------------------

def _event(seq: int, kind: str = "update") -> AlertEvent:
    return AlertEvent(alert_id="gw-1", seq=seq, event=kind, node="gw", site="s", ts=100.0 + seq, start=100.0,
                      end=None, score=5.0, peak_score=6.0, threshold=4.0, tier="numpy", model_id="m",
                      model_sha256=None, top_sensors=[], top_steps=[], origin=None, ticks=2)


def test_jsonl_cuts_a_torn_line_and_writes_the_last_event_only_if_missing(tmp_path, caplog):
    cfg = pipeline_cfg(sinks=[{"type": "jsonl", "path": str(tmp_path / "a.jsonl")}])
    sink = JsonlSink(cfg.sinks[0], cfg.sink_context())
    sink.emit(_event(0, "new"))
    sink.close()
    with (tmp_path / "a.jsonl").open("a") as fh:
        fh.write('{"kind":"fault","sensor":"P1_flow"}\n')          # another kind of line after it
        fh.write('{"kind":"alert","alert_id":"gw-1","se')          # a crash in the middle of a line
    with caplog.at_level(logging.WARNING):
        sink = JsonlSink(cfg.sinks[0], cfg.sink_context())
    assert "removed an incomplete last line (37 bytes) left by an earlier run" in caplog.text
    sink.recover(_event(0, "new"))          # already there (behind a fault line): not again
    sink.recover(_event(1))                 # decided, never written: written now
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(x["kind"], x.get("seq")) for x in lines] == [("alert", 0), ("fault", None), ("alert", 1)]


# ---- the agent: refusals ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def killed_with_an_alert_open(tmp_path_factory) -> Path:
    """An agent fed rows 0..175 (an alert opens at ~171), checkpointed after all of them, then kill -9."""
    tmp = tmp_path_factory.mktemp("killed")
    killed_after_tick_173(tmp, write_config(tmp))
    events = alert_lines(tmp)
    assert [e["event"] for e in events] == ["new"], events
    return tmp


def refusal_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "checkpoint" in line and "refused" in line]


def _truncate(tmp: Path) -> str:
    path = tmp / "state" / CHECKPOINT_FILE
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 100])
    return rf"truncated: {len(data) - 100} of {len(data)} bytes"


def _corrupt(tmp: Path) -> str:
    path = tmp / "state" / CHECKPOINT_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return "corrupt: sha256 mismatch"


def _mismatched(tmp: Path) -> str:
    write_config(tmp, sensors=["a", "b", "c", "d"])
    return r"taken with another configuration: sensors differ \(added d\)"


def _does_not_fit(tmp: Path) -> str:
    path = tmp / "state" / CHECKPOINT_FILE
    meta, state = decode(path.read_bytes())
    state["pipeline"]["window"]["values"] = state["pipeline"]["window"]["values"][:, :2]
    path.write_bytes(encode(meta, state))
    return r"does not fit: ValueError: window.values: shape \(16, 2\), expected \(16, 3\)"


@pytest.mark.parametrize("damage", [_truncate, _corrupt, _mismatched, _does_not_fit],
                         ids=["truncated", "corrupt", "mismatched", "does-not-fit"])
def test_a_bad_checkpoint_is_refused_in_one_line_and_the_agent_warms_up(tmp_path, killed_with_an_alert_open, damage):
    cfg = copy_run(killed_with_an_alert_open, tmp_path)
    why = damage(tmp_path)
    agent = AgentProcess(tmp_path, cfg, "run2")
    assert "warming up (0/60 ticks)" in agent.ready()
    agent.feed(row(i) for i in range(176, 300))
    assert agent.finish() == 0
    err = agent.stderr()
    [line] = refusal_lines(err)
    assert re.search(rf"checkpoint \S+/state/checkpoint.bin refused: {why}; warming up \(60 ticks\)$", line), line
    assert "Traceback" not in err
    assert re.search(r"first tick \S+: warming up \(1/60 ticks\)", err)
    # The alert the killed run left open cannot be judged without its state: ended, reason restart.
    by_alert = check_alert_stream(alert_lines(tmp_path))
    first = by_alert[alert_lines(killed_with_an_alert_open)[0]["alert_id"]]
    assert [(e["event"], e["seq"], e["reason"]) for e in first] == [("new", 0, None), ("end", 1, "restart")]


# ---- the agent: an alert across kill -9 ------------------------------------------------------

def test_an_alert_open_at_kill_is_continued_with_the_next_seq(tmp_path, killed_with_an_alert_open):
    cfg = copy_run(killed_with_an_alert_open, tmp_path)
    agent = AgentProcess(tmp_path, cfg, "run2")
    assert "resumed from checkpoint" in agent.ready()
    agent.feed(row(i) for i in range(176, 260))        # the step lasts until 199, then calm
    assert agent.finish() == 0
    err = agent.stderr()
    assert refusal_lines(err) == []
    assert re.search(r"first tick \S+: scored by numpy", err), err[-2000:]
    [(alert_id, events)] = check_alert_stream(alert_lines(tmp_path)).items()
    assert events[1]["event"] == "update" and events[1]["gap_s"] == 2.0       # ticks 174, 175: open, not scored
    assert events[-1]["reason"] == "cleared" and events[-1]["end"] >= "2026-01-05T08:03:19.000Z"   # the step's last row
    assert all(e["gap_s"] is None for e in events[2:])


def test_a_gap_longer_than_the_window_ends_the_alert_with_reason_restart(tmp_path, killed_with_an_alert_open):
    cfg = copy_run(killed_with_an_alert_open, tmp_path)
    agent = AgentProcess(tmp_path, cfg, "run2")
    agent.ready()
    agent.feed(row(i) for i in range(300, 330))
    assert agent.finish() == 0
    events = check_alert_stream(alert_lines(tmp_path))[alert_lines(killed_with_an_alert_open)[0]["alert_id"]]
    assert [(e["event"], e["seq"], e["reason"], e["gap_s"]) for e in events] == \
        [("new", 0, None, None), ("end", 1, "restart", 126.0)]


# ---- the active model --------------------------------------------------------------------------

needs_runtimes = pytest.mark.skipif(any(find_spec(m) is None for m in ("onnxruntime", "ai_edge_litert")),
                                    reason="the demo bundle's tiers need onnxruntime and ai-edge-litert")


@needs_runtimes
@NO_DEMO
def test_a_swapped_in_bundle_is_still_active_after_a_restart(tmp_path):
    from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, drive_hotswap as drive, hotswap_pipeline as setup
    from conftest import sim_rows as demo_rows, variant

    from agent.service import Agent

    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3)
    rows = demo_rows(swap.cfg, days=0.2)
    drive(pipe, swap, rows, until=lambda: True)
    shutil.copytree(variant("demo-r", src=DEMO_BUNDLE, model_id="demo-r"), models / "r")
    drive(pipe, swap, rows[WARMUP + 1:], until=lambda: pipe.chain.switch_count > 0)
    assert pipe.chain.current.describe()["model_id"] == "demo-r"
    restarted = Agent(swap.cfg)
    try:
        assert restarted.pipeline.chain.current.describe()["model_id"] == "demo-r"
        assert restarted.hotswap.status()["bundle"] == str(models / "r")
        assert models / "r" in restarted.hotswap.seen          # not a candidate again
    finally:
        for sink in restarted.sinks:
            sink.close()


def test_the_sensor_fault_tracker_is_in_the_checkpoint_and_a_fault_open_at_the_stop_goes_on():
    """A fault open when the agent stopped is still open after the restart, so its fault_end comes."""
    rows = sim_rows(400)
    for r in rows[100:]:                      # sensor 0 reads the same value from tick 100 on: stuck
        r.values[0], r.missing[0] = 21.5, False
    cfg = pipeline_cfg()
    running = Pipeline(cfg)
    opened = []
    for r in rows[:300]:
        opened += [f for f in running.step(r).faults if f.sensor == SENSORS[0]]
    assert opened, "the stuck sensor was not reported"
    restarted = Pipeline(cfg)
    restarted.restore(through_file(running.state_dict()))
    assert state_text(restarted.health.state()) == state_text(running.health.state())
    assert restarted.health.kind[0] == running.health.kind[0] != ""
    open_ids = set(restarted.health.ids) - {""}
    for r in rows[300:]:
        a, b = running.step(r), restarted.step(r)
        # A fault open at the stop ends under its own id; one raised after it carries the new life's suffix.
        assert [without_fault_life(f, open_ids) for f in a.faults] == [without_fault_life(f, open_ids) for f in b.faults]


def without_fault_life(event, keep: set[str]) -> dict:
    d = event.to_dict()
    if d["fault_id"] not in keep:
        d["fault_id"] = d["fault_id"].rsplit("-", 1)[0]
    return d


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_while_the_agent_is_starting_stops_it_cleanly(tmp_path, sig):
    """Building the agent connects its sinks and reads its checkpoint; a SIGTERM (systemd) or a
    Ctrl-C in that time stops it cleanly once it is built — exit 0 with its summary — instead of
    killing it half-way. The checkpoint is a FIFO here, so the start is held at a known point: the
    agent is blocked reading it when the FIFO accepts a writer."""
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    fifo = state / CHECKPOINT_FILE
    os.mkfifo(fifo)
    agent = AgentProcess(tmp_path, cfg, "run")

    def writer() -> int | None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)   # ENXIO until a reader has it open
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            return None

    fd = wait_for(writer, "the agent reading its checkpoint", proc=agent.proc)
    agent.proc.send_signal(getattr(signal, sig))
    os.write(fd, b"not a checkpoint")
    os.close(fd)
    assert agent.proc.wait(timeout=90) == 0, agent.stderr()
    err = agent.stderr()
    assert f"{sig} while starting: stopping now" in err
    assert "refused: truncated" in err and f"stopped: signal {sig}" in err.splitlines()[-1]


def _two_stations_running_300_ticks():
    """Two loop stations simulated from 06:00 (the morning queue builds): the config, every aligned
    row, and a pipeline that has run the first 300 of them."""
    names = [f"S0{k}_{m}" for k in (1, 2) for m in ("flow", "occ", "speed")]
    cfg = config.from_dict({"tick_s": 30.0, "topology": "corridor", "sensors": names,
                            "sources": [{"type": "simulate", "scenario": "corridor", "seed": 1,
                                         "start": "2026-01-05T06:00:00Z", "duration_s": 4 * 3600.0}]})
    from agent.sources.simulate import generate
    from agent.window import Aligner
    from agent.records import Rejects
    rows = Aligner.for_agent(cfg, Rejects()).align_all(iter(generate(cfg.sources[0], names, 30.0)))
    running = Pipeline(cfg)
    for r in rows[:300]:
        running.step(r)
    return cfg, rows, running


def test_the_drift_rules_station_relation_is_in_the_checkpoint():
    """The loop stations' flow / occ / speed relation (its level, spreads, running mean) survives a
    restart, so a drift under way is judged on as if the agent had kept running."""
    cfg, rows, running = _two_stations_running_300_ticks()
    restarted = Pipeline(cfg)
    restarted.restore(through_file(running.state_dict()))
    for r in rows[300:400]:
        running.step(r)
        restarted.step(r)
    drift = [[rule for rule in p.health.rules if rule.KIND == "drift"][0] for p in (running, restarted)]
    assert drift[0].rel_count.min() > 0 and drift[0].rel_fitted.all()
    for k in ("rel_count", "rel_level", "rel_a", "rel_b", "rel_mom", "mean_e", "base_e", "d2", "departure", "mu", "cov"):
        np.testing.assert_allclose(getattr(drift[1], k), getattr(drift[0], k), rtol=1e-12, err_msg=k)


def test_a_checkpoint_from_before_the_station_relation_restores_and_learns_it_afresh():
    """A drift rule's state without the relation part (an agent before it) restores: the sensors'
    part as saved, the stations' relations learned again from then on."""
    cfg, rows, running = _two_stations_running_300_ticks()
    state = through_file(running.state_dict())

    def without_relation(node):
        if isinstance(node, dict):
            if node.pop("relation", None) is not None:
                return node
            return next((found for v in node.values() if (found := without_relation(v)) is not None), None)
        return None

    old = without_relation(state)
    assert old is not None and "mean_e" in old
    restarted = Pipeline(cfg)
    restarted.restore(state)
    drift = [rule for rule in restarted.health.rules if rule.KIND == "drift"][0]
    assert drift.rel_count.max() == 0 and not drift.rel_fitted.any()
    np.testing.assert_array_equal(drift.mean_e[:drift.n], np.asarray(old["mean_e"]))
    for r in rows[300:400]:
        restarted.step(r)
    assert drift.rel_count.min() > 60 and drift.rel_fitted.all()


def test_health_says_what_became_of_the_checkpoint_at_start(tmp_path):
    # On the old code a refused checkpoint was one log line: health (retained on MQTT, what a fleet watches)
    # showed a gateway warming up again with nothing saying it had lost its state, or why.
    path = pump_config(tmp_path)

    def life(max_ticks: int) -> dict:
        agent = Agent(config.load(str(path)), max_ticks=max_ticks)
        summary = agent.run()
        [mqtt] = [s for s in agent.sinks if s.TYPE == "mqtt"]
        check("health", mqtt.health_payload(summary))
        return summary["checkpoint_at_start"]

    assert life(150) == {"state": "none", "detail": None}
    resumed = life(5)
    assert resumed["state"] == "resumed" and re.fullmatch(r"taken \d+ s ago", resumed["detail"]), resumed
    checkpoint = tmp_path / "state" / CHECKPOINT_FILE
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    refused = life(5)
    assert refused["state"] == "refused" and refused["detail"].startswith("truncated: 100 of "), refused


@pytest.mark.parametrize("header", [{"created": None}, {"last_ts": 1e300}, {"last_ts": "x"}],
                         ids=["no-created", "last_ts-out-of-range", "last_ts-not-a-number"])
def test_a_checkpoint_refused_after_its_state_was_read_leaves_nothing_half_restored(tmp_path, header):
    # On the old code the aligner and the pipeline were restored before the header's times were read:
    # a header that failed then was reported 'refused' in health while the agent ran on, warm, with the
    # refused checkpoint's state (and no resume point, so no gap was told to an open alert).
    path = pump_config(tmp_path)
    Agent(config.load(str(path)), max_ticks=150).run()
    checkpoint = tmp_path / "state" / CHECKPOINT_FILE
    meta, state = decode(checkpoint.read_bytes())
    checkpoint.write_bytes(encode({k: v for k, v in {**meta, **header}.items() if v is not None}, state))
    agent = Agent(config.load(str(path)), max_ticks=5)
    key = next(iter(header))
    assert agent.checkpoint_start["state"] == "refused"
    assert agent.checkpoint_start["detail"].startswith(f"does not fit: ValueError: header {key}: "), agent.checkpoint_start
    assert not agent.pipeline.warm and agent.pipeline.ticks == 0 and agent.pipeline.normaliser is None
    assert agent.aligner.last_closed_k is None and agent._resume_from is None
    summary = agent.run()
    assert summary["checkpoint_at_start"] == agent.checkpoint_start and not summary["warm"]
    [mqtt] = [s for s in agent.sinks if s.TYPE == "mqtt"]
    check("health", mqtt.health_payload(summary))


# ---- a saved checkpoint is written in pieces (perf67) -------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.ckpt")))
def test_a_checkpoint_saved_in_pieces_is_the_file_an_earlier_release_wrote(tmp_path, fixture):
    """Each fixture is a checkpoint file an earlier release wrote (its header names the commit); its state,
    saved by this one, is the same file byte for byte — the format did not change with the way it is written."""
    from agent.checkpoint import write_checkpoint
    data = (FIXTURES / fixture).read_bytes()
    meta, state = decode(data)
    nbytes = write_checkpoint(tmp_path / CHECKPOINT_FILE, meta, state)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == data and nbytes == len(data)


def test_the_pieces_of_a_saved_checkpoint_make_encodes_bytes_for_every_kind_of_value(tmp_path, monkeypatch):
    """A header of many pieces (made once, its length written into the prefix's room after it, hashed back from
    the file; large containers in runs of items holding ~256 values — scalars, small lists, small dicts' keys —
    a large item in pieces of its own, each piece by json.dumps) is json.dumps's text; arrays in every layout (views with steps, transposed, 0-d, empty) and every narrowing (counts kept as
    floats → int16, float32 values → float32, −0.0 and NaN kept) are encode's; keys that are no string too."""
    from agent import checkpoint
    grid = np.arange(48.0).reshape(6, 8)
    state = {"stepped": grid[:, ::3], "transposed": grid.T, "zero_d": np.array(2.5), "empty": np.zeros((0, 3)),
             "counts": np.array([[3.0, 0.0], [1.0, 7.0]]), "float32s": np.array([0.1, 0.2], np.float32).astype(np.float64),
             "signed_zero": np.array([-0.0, 1.0]), "nan": np.array([np.nan, 1.5]), "ints": np.arange(5, dtype=np.int64),
             "mask": np.array([True, False]), "bytes": np.array([-3, 4], np.int8),
             "scores": [float(x) for x in np.linspace(-1, 1, 3001)] + [float("nan"), float("inf"), 1e300, -0.0],
             7: {"np": [np.float64(0.1), np.int64(-4), np.bool_(True), np.float32(1.5)], "text": "Überdruck ° ✓"},
             "nothing": None, "tuple": (1, "two", 3.0), "rows": [[float(i), i, None] for i in range(400)],
             "mixed": [{"a": list(range(300))}, 1, [2, {"b": list(range(300)), "c": [[]] * 300}], (), {}, "end"],
             "per_sensor": {f"s{i}": {"mu": [i / 7, -i], "n": i, "held": None, "w": np.arange(2.0) + i} for i in range(300)},
             "np_run": [np.float64(i / 3) if i % 2 else float(i) for i in range(700)],
             "rows_then_large": [(i, [i, i + 0.5]) for i in range(200)] + [list(range(400)), "after"]}
    meta = {"config": {"sensors": ["Δp", "T"]}, "ticks": 12, 3: "int key", 2.5: "float key", True: "bool key"}
    monkeypatch.setattr(checkpoint.time, "time", lambda: 1234.5)
    info = checkpoint.CheckpointStore(tmp_path).save(meta, state)
    data = (tmp_path / CHECKPOINT_FILE).read_bytes()
    header_len = struct.unpack_from("<8sIQQ", data)[2]
    assert header_len > 5 * checkpoint._HEADER_PIECE
    assert data == encode({**meta, "created": 1234.5}, state) and info["bytes"] == len(data)
    back_meta, back = decode(data)
    assert back_meta["created"] == 1234.5 and back_meta["3"] == "int key" and back_meta["true"] == "bool key"
    assert np.array_equal(back["stepped"], grid[:, ::3]) and np.array_equal(back["transposed"], grid.T)
    assert back["zero_d"].shape == (1,) and back["empty"].shape == (0, 3) and np.signbit(back["signed_zero"][0])
    assert back["counts"].dtype == np.float64 and np.array_equal(back["nan"], state["nan"], equal_nan=True)
    assert back["7"]["np"] == [0.1, -4, True, 1.5] and back["7"]["text"] == "Überdruck ° ✓"
    assert back["per_sensor"]["s299"]["mu"] == [299 / 7, -299] and np.array_equal(back["per_sensor"]["s5"]["w"], [5.0, 6.0])
    assert back["np_run"][1] == 1 / 3 and back["rows_then_large"][-2] == list(range(400))


def test_an_array_that_cannot_be_checkpointed_is_refused_before_the_file_is_touched(tmp_path):
    from agent.checkpoint import CheckpointStore
    store = CheckpointStore(tmp_path)
    store.save({"config": {}}, {"w": np.arange(3.0)})
    before = store.path.read_bytes()
    with pytest.raises(TypeError, match="dtype <c16"):
        store.save({"config": {}}, {"w": np.arange(3.0), "z": np.zeros(2, complex)})
    assert store.path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]


def test_a_failed_write_of_a_piece_leaves_the_last_checkpoint_and_no_temporary_file(tmp_path):
    """A piece that cannot be made is an error of the write: the old checkpoint stays, the temporary file goes."""
    from agent.checkpoint import atomic_write_from
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(b"the last checkpoint")

    def pieces():
        yield b"the first piece"
        raise ValueError("the second piece cannot be made")

    with pytest.raises(ValueError, match="second piece"):
        atomic_write_from(path, pieces())
    assert path.read_bytes() == b"the last checkpoint" and sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]
