"""`stad-agent listen` shows sensor faults: the README's control-room console followed only
`…/alerts` and `…/status`, so an operator who watched it never heard of the stuck vibration sensor
the agent published on `…/faults` (user6's walk: an integrator's pump skid). A real mosquitto and
a real `listen` process; the fault events are the agent's own FaultEvent payloads, schema-checked."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from agent.faults.events import FaultEvent
from conftest import alert_event, wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from payloads import check

ROOT = Path(__file__).resolve().parent.parent
BASE = "plant7/stad/plant7-pumphouse/p7-gw-skid1"


def _fault(seq: int) -> dict:
    now = time.time()
    event = FaultEvent(fault_id="p7-gw-skid1-VT101-20261203T223453Z-3e48dd", seq=seq,
                       event="fault_end" if seq else "fault", node="p7-gw-skid1", site="plant7-pumphouse",
                       sensor="VT101", group="skid1", kind="stuck", ts=now, start=now - 90,
                       end=now if seq else None, evidence={"summary": "the same reading 2.13 for 90 s"},
                       reason="cleared" if seq else None)
    return check("fault", event.to_dict())


def _publish(port: int, topic: str, payload: dict) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-s"],
                   input=json.dumps(payload).encode(), check=True)


def _listen(tmp_path, port: int, *extra: str):
    err = tmp_path / "listen.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(port),
                             "--prefix", "plant7/stad", "--count", "1", "--timeout", "120", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=err.open("w"), text=True)
    assert wait_until(lambda: "following" in err.read_text() or proc.poll() is not None)
    return proc, err


def test_listen_shows_a_sensor_fault_and_its_end_once_each(tmp_path, broker):
    out_file = tmp_path / "seen.jsonl"
    proc, err = _listen(tmp_path, broker.port, "--out", str(out_file))
    try:
        assert "/faults" in err.read_text(), err.read_text()
        for payload in (_fault(0), _fault(0), _fault(1)):          # a replayed copy of the fault
            _publish(broker.port, f"{BASE}/faults", payload)
        # --count counts alert events: the faults alone do not end it; the alert does.
        _publish(broker.port, f"{BASE}/alerts", alert_event("p7-gw-skid1-a", 0, "new", node="p7-gw-skid1",
                                                            site="plant7-pumphouse").to_dict())
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.read_text()
    lines = out.splitlines()
    faults = [line for line in lines if "VT101" in line]
    assert len(faults) == 2, out
    assert "FAULT " in faults[0] and "stuck VT101 (skid1)" in faults[0] and "the same reading 2.13" in faults[0]
    assert "FAULT_END" in faults[1] and "(cleared)" in faults[1], out
    assert any("p7-gw-skid1-a #0" in line for line in lines), out
    kept = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [k["event"] for k in kept] == ["fault", "fault_end", "new"], kept


def test_listen_json_prints_the_fault_payload_and_skips_a_bad_one(tmp_path, broker):
    proc, err = _listen(tmp_path, broker.port, "--json")
    try:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1",
                        "-t", f"{BASE}/faults", "-m", '{"fault_id": 7, "seq": 0}'], check=True)
        _publish(broker.port, f"{BASE}/faults", _fault(0))
        _publish(broker.port, f"{BASE}/alerts", alert_event("p7-gw-skid1-a", 0, "new").to_dict())
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    said = err.read_text()
    assert proc.returncode == 0 and "listen: not a fault event on" in said and "Traceback" not in said, said
    shown = [json.loads(line) for line in out.splitlines()]
    assert shown[0] == _fault(0) | {"ts": shown[0]["ts"], "start": shown[0]["start"]}, shown
    assert shown[1]["alert_id"] == "p7-gw-skid1-a", shown
