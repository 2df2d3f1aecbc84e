"""A traffic engineer's first week (user35): what the start and the faults said, checked on the real agent.

A bundle installed into `scoring.models_dir` before the agent's first start — the way a delivery is made — is
taken as decided and never loaded (agent/hotswap.py: it was there before the start); the banner promised `a bundle
delivered into … is shadow-scored, then swapped in` and the agent scored numpy with nothing said. The banner now
names it and the way to take it. Real agent processes (a stdin source that ends at once). The keys a train prints
for the gateway said `scoring.bundle` alone: with a models_dir in the config they say how to deliver there too.

A station's controller that went to summer time (its stamps an hour ahead): every reading refused as `clock skew`,
and the centre was told `3 sensors of K028 faulty together (…: missing); check what they share (detector card,
cabinet, cable, power)`. The fault now says its readings arrive and are refused, and how far off they are stamped
(agent/refused_readings.py). Real agent processes on a real UDP socket."""
from __future__ import annotations

import shutil
import subprocess
import sys

import yaml

from conftest import DEMO_BUNDLE, NO_DEMO, REPO, free_port, start_logged_agent, stop_agent, wait_for
from udp_lives import Sender, faults, write_config


def _start(tmp_path) -> str:
    cfg = {"node": {"id": "gw1", "site": "a10"}, "tick_s": 30,
           "sensors": [f"S0{i}_{m}" for i in range(1, 7) for m in ("flow", "occ", "speed")],
           "sources": [{"type": "stdin"}], "warmup": {"ticks": 40},
           "scoring": {"chain": ["numpy"], "models_dir": "models"}, "sinks": [{"type": "terminal"}],
           "state_dir": "state"}
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(tmp_path / "agent.yaml")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stderr


@NO_DEMO
def test_a_bundle_in_models_dir_at_the_first_start_is_said_not_taken_and_how_to_take_it(tmp_path):
    shutil.copytree(DEMO_BUNDLE, tmp_path / "models" / "a10-v1")
    first = _start(tmp_path)
    assert (f"  model updates: a bundle delivered into {tmp_path / 'models'} is shadow-scored, then swapped in; "
            "a10-v1 already there at this first start is not taken (only a bundle delivered from now on is): "
            "SIGHUP (systemctl reload stad-agent) asks for the newest, or name it in scoring.bundle\n") in first, first
    again = _start(tmp_path)      # a restart: what was there is the last run's decision, not news
    assert f"  model updates: a bundle delivered into {tmp_path / 'models'} is shadow-scored, then swapped in\n" in again, again


def _told_after_clock_step(tmp_path, station_clock: dict[str, float] | None, offset: float = 0.0) -> list[dict]:
    """The fault events a real agent tells once, after its first tick, the controllers' clocks move: each station
    (a, b) its own (`station_clock`, each in datagrams of its own), or one controller for both (`offset`)."""
    port = free_port()
    cfg = write_config(tmp_path, port)
    stations = Sender(port)
    stations.station_clock = {"a": 0.0, "b": 0.0} if station_clock else {}
    proc = start_logged_agent(cfg, tmp_path, "agent")
    err, out = tmp_path / "agent.err", tmp_path / "alerts.jsonl"
    try:
        wait_for(lambda: "first tick" in err.read_text(), "the first tick", timeout=120, proc=proc)
        stations.station_clock.update(station_clock or {})
        stations.clock_offset = offset
        wait_for(lambda: any(f["event"] == "fault" for f in faults(out)), "a fault told", timeout=120, proc=proc)
    finally:
        stations.stop()
        stop_agent(proc)
    return [f for f in faults(out) if f["event"] == "fault"]


def _said_refused(told: list[dict], offset: str) -> None:
    for f in told:
        ev = f["evidence"]
        assert ev["refused"]["reason"] == "clock skew" and ev["refused"]["count"] >= 1, ev
        assert abs(abs(ev["refused"]["offset_s"]) - 3600) < 5, ev
        assert (f"readings arrive but are refused as clock skew: stamped {offset} from this host's clock" in
                ev["summary"] and "an hour: summer time?" in ev["summary"]), ev["summary"]
        assert "detector card" not in ev["summary"], ev["summary"]


def test_a_station_whose_clock_went_an_hour_ahead_is_told_as_refused_readings_not_a_broken_cabinet(tmp_path):
    told = _told_after_clock_step(tmp_path, {"b": 3600.0})      # station b's controller goes to summer time
    assert told and all(set(f.get("sensors") or [f["sensor"]]) <= {"b", "b_x", "b_y"} for f in told), told
    _said_refused(told, "+60 min")


def test_a_controller_of_every_station_an_hour_behind_is_one_source_fault_saying_so(tmp_path):
    told = _told_after_clock_step(tmp_path, None, offset=-3600.0)
    assert [f["kind"] for f in told] == ["source"] and told[0]["sensors"] == ["a_x", "a_y", "b_x", "b_y"], told
    _said_refused(told, "-60 min")


def test_the_keys_train_prints_say_how_to_deliver_into_models_dir_when_the_config_watches_one(tmp_path):
    from agent.config import from_dict
    from convert.data import gateway_keys
    cfg = {"sensors": ["K012_flow", "K012_occ"], "tick_s": 30, "sinks": [], "warmup": {"ticks": 480},
           "sources": [{"type": "udp", "port": 5555}], "scoring": {"models_dir": "models"}}
    text = gateway_keys(from_dict(cfg, base_dir=str(tmp_path)), tmp_path / "bundles" / "a10-v1")
    assert yaml.safe_load(text) == {"scoring": {"bundle": str(tmp_path / "bundles" / "a10-v1")}, "warmup": {"ticks": 480}}
    models = tmp_path / "models"
    assert (f"# or, as this config watches scoring.models_dir, deliver it there instead of naming it: cp -r "
            f"{tmp_path / 'bundles' / 'a10-v1'} {models}/.a10-v1.tmp && mv {models}/.a10-v1.tmp {models}/a10-v1 — "
            "taken while the agent runs; one there before the agent's first start is taken only on SIGHUP "
            "(systemctl reload)") in text.splitlines(), text
    del cfg["scoring"]
    assert "models_dir" not in gateway_keys(from_dict(cfg, base_dir=str(tmp_path)), tmp_path / "b")


def test_refused_readings_note_only_configured_sensors_so_a_sender_of_made_up_names_grows_nothing():
    """A flood of skewed records under names the config does not have (a mis-set controller, a scanner) is counted by
    the aligner as it always was; the notes that explain a `missing` fault keep only configured sensors — before, every
    made-up name stayed in memory for the agent's life."""
    from agent.records import Record
    from agent.refused_readings import RefusedReadings

    notes = RefusedReadings(300.0, ["K028_flow", "K028_occ"])
    for i in range(5000):
        notes.after_push(Record(ts=3600.0 + i, values={f"junk_{i}": 1.0, "K028_flow": 2.0}, received=float(i)),
                         refused=True)
    assert set(notes.notes) == {"K028_flow"}
    assert notes.notes["K028_flow"].count == 5000
    text, evidence = notes.said(["K028_flow"])
    assert "summer time?" in text and evidence == {"reason": "clock skew", "count": 5000, "offset_s": 3600.0}
