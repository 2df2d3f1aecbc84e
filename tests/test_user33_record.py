"""`stad-agent record` keeps a day of a live MQTT feed as recordings the converter and warmup.replay read (user33:
README and docs/converter.md train on recordings, and a roadside unit whose only history is its broker's traffic had
no way to make one; `mosquitto_sub -F %p` loses the station when the sensor is in the topic).

Real parts: a real Mosquitto, `stad-agent record` as a process with a gateway config (a name pattern per station,
a topic mapped to one sensor), mosquitto_pub as the loop controller, the file read back by the real replay source."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from agent import config as config_mod
from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from conftest import REPO, wait_for
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures

SENSORS = ["K012_flow", "K012_occ", "K014_flow", "K014_occ"]


def publish(port: int, topic: str, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", payload],
                   check=True)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")] \
        if path.exists() else []


def test_record_writes_a_live_mqtt_feed_as_day_files_the_replay_reads(tmp_path, broker):
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump({
        "node": {"id": "rsu-1"}, "tick_s": 30, "topology": "corridor", "sensors": SENSORS,
        "sources": [{"type": "mqtt", "qos": 1, "broker": {"host": "127.0.0.1", "port": broker.port},
                     "topics": {"rsu/loops/K012": "K012_*", "rsu/loops/K014/flow": "K014_flow",
                                "rsu/loops/K014/occ": "K014_occ"}}],
        "sinks": [], "state_dir": "state"}))
    out = tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "record", "-c", str(tmp_path / "gw.yaml"), "-o", str(out)],
                            cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        day = out / "2026-12-06.jsonl"
        # the source subscribes as it connects: send until the first reading is in the file
        wait_for(lambda: publish(broker.port, "rsu/loops/K012", json.dumps(
            {"ts": "2026-12-06T23:59:00Z", "flow": 10, "occ": 1.5, "bogus": 3})) or lines(day), "the first record",
            60, proc)
        publish(broker.port, "rsu/loops/K014/flow", json.dumps({"ts": "2026-12-06T23:59:30Z", "value": 11}))
        publish(broker.port, "rsu/loops/K014/occ", "not a number")
        publish(broker.port, "rsu/loops/K012", json.dumps({"ts": "2026-12-07T00:00:00Z", "flow": 12, "occ": 2}))
        wait_for(lambda: lines(out / "2026-12-07.jsonl"), "the next day's file", 60, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    first = lines(day)
    assert first[0] == {"ts": "2026-12-06T23:59:00.000Z", "values": {"K012_flow": 10.0, "K012_occ": 1.5}}
    assert first[-1] == {"ts": "2026-12-06T23:59:30.000Z", "values": {"K014_flow": 11.0}}
    assert lines(out / "2026-12-07.jsonl") == [{"ts": "2026-12-07T00:00:00.000Z",
                                                 "values": {"K012_flow": 12.0, "K012_occ": 2.0}}]
    summary = err.strip().splitlines()[-1]
    assert summary.startswith(f"record: {len(first)} record(s) into 2026-12-06.jsonl; 1 record(s) into 2026-12-07.jsonl")
    assert "rejected by the source 1 (bad payload: 1)" in summary
    assert "not in `sensors` left out: K012_bogus ×" in summary
    # read back as the converter and warmup.replay read a folder
    rejects = Rejects()
    got = list(ReplaySource(ReplayConfig(path=str(out)), SENSORS, rejects).records())
    assert rejects.total == 0
    assert [(r.ts, r.values) for r in got][-2:] == [(1796601570.0, {"K014_flow": 11.0}),
                                                    (1796601600.0, {"K012_flow": 12.0, "K012_occ": 2.0})]


def test_record_refuses_a_config_without_a_live_source(tmp_path):
    cfg = {"tick_s": 30, "sensors": SENSORS, "sources": [{"type": "replay", "path": "rec"}], "sinks": []}
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "a.csv").write_text("timestamp,K012_flow\n2026-12-06T00:00:00Z,1\n")
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(cfg))
    config_mod.load(tmp_path / "t.yaml")
    done = subprocess.run([sys.executable, "-m", "agent", "record", "-c", str(tmp_path / "t.yaml"), "-o",
                           str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "sources: no live source to record" in done.stderr
    assert not (tmp_path / "out").exists()
