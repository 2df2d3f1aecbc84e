"""Alert and fault events a broker refuses are kept for an operator, and can be re-sent (qa28).

A real Mosquitto with its dynamic-security plugin (tests/mqtt_acl.py) refuses the gateway's alerts and
faults (MQTT 5 PUBACK 0x87). Before: each refused event was dropped from the outbox, counted and logged —
the event itself gone. Now it is first written, exactly as sent, to state_dir/mqtt-refused.jsonl (named
in the log line and in health), and docs/operations.md's re-send command, run here as written, delivers
it once the ACL is mended. The file's bounds (rotation to `.1`) and a write that fails are checked on
real files and a real full disk.
"""
from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest

from agent.refused_file import RefusedFile
from agent.sinks.mqtt import encode_json
from conftest import alert_event, fault_event, wait_until
from small_fs import small_fs  # noqa: F401 — a pytest fixture
from mqtt_acl import Watcher, gateway_sink, make_acl_broker  # noqa: F401 — make_acl_broker: a fixture

NODE, SITE = "gw-7", "plant-a"
BASE = f"stad/{SITE}/{NODE}"
REPO = Path(__file__).resolve().parent.parent
REASON = "Not authorized (reason code 0x87)"


def resend_command() -> str:
    """docs/operations.md's re-send line, as an operator would copy it."""
    text = (REPO / "docs" / "operations.md").read_text()
    found = re.search(r"^(jq -c .*mosquitto_pub .*)$", text, re.M)
    assert found, "docs/operations.md no longer shows the re-send command"
    return found.group(1)


def test_refused_alerts_and_faults_are_kept_as_sent_and_the_documented_command_resends_them(
        tmp_path, make_acl_broker, caplog):
    caplog.set_level(logging.INFO, logger="stad.sink.mqtt")
    broker = make_acl_broker({"gw": {"write": [f"{BASE}/status", f"{BASE}/health"]},      # no alerts, faults
                              "watch": {"read": [f"{BASE}/#", "marker"], "write": ["marker"]}})
    watch = Watcher(broker.port, f"{BASE}/#")
    sink = gateway_sink(tmp_path, broker.port, NODE, SITE)
    alert, fault = alert_event("gw-7-a", 0, "new"), fault_event(1)
    try:
        sink.emit(alert)
        sink.fault(fault)
        assert wait_until(lambda: sink.outbox.stats()["dropped"] == {"refused": 2} and sink.outbox.depth == 0
                          and sink.stats()["refused_file"]["kept"] == 2, 30), (sink.stats(), caplog.text)
        path = tmp_path / "state" / "mqtt-refused.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert [(r["topic"], r["reason"], r["qos"], r["event"]) for r in lines] == [
            (f"{BASE}/alerts", REASON, 1, "gw-7-a #0 new"), (f"{BASE}/faults", REASON, 1, "gw-flow-1 #0 fault")]
        assert [r["payload"] for r in lines] == [encode_json(alert.to_dict()), encode_json(fault.to_dict())]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT.*", r["ts"]) for r in lines), lines
        assert sink.stats()["refused_file"] == {"path": str(path), "kept": 2, "not_kept": 0, "rotated_away": 0,
                                                "problem": None}
        said = [r.getMessage() for r in caplog.records if "refuses alert events" in r.getMessage()]
        assert len(said) == 1 and f"kept in {path} to re-send by hand" in said[0], said

        # The health document with it is one the schema takes (the property is additive).
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((REPO / "agent" / "schemas" / "health.schema.json").read_text())
        health = sink.health_payload({"tier": "numpy", "model": {"tier": "numpy", "model_id": "numpy-ar3"}, "ticks": 1,
                                      "rejected": {}, "sinks": {"mqtt": sink.stats()}})
        jsonschema.validate(json.loads(encode_json(health)), schema)

        # The ACL mended, the operator re-sends the alerts with the documented line: they arrive, marked replayed.
        broker.allow("gw", write=[f"{BASE}/alerts"])
        env = {"PATH": "/usr/bin:/bin", "FILE": str(path), "HOST": "127.0.0.1", "PORT": str(broker.port),
               "GW_USER": "gw", "PW_FILE": str(tmp_path / "gw.pw"), "TOPIC": f"{BASE}/alerts"}
        done = subprocess.run(["bash", "-c", resend_command()], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, (resend_command(), done.stderr)
        got = [json.loads(p) for t, p in watch.after_marker(1) if t == f"{BASE}/alerts"]
        assert got == [{**json.loads(encode_json(alert.to_dict())), "replayed": True}], got
        assert not [t for t, _ in watch.after_marker(2) if t == f"{BASE}/faults"]   # (the faults' topic: not asked)
    finally:
        sink.close()
        watch.close()


def test_the_file_is_bounded_in_bytes_and_says_what_a_rotation_replaces(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="stad.sink.mqtt")
    kept = RefusedFile(tmp_path / "mqtt-refused.jsonl", max_bytes=1000)
    payload = "x" * 300                     # a line is about 430 bytes: two fit, the third rotates
    for i in range(7):
        assert kept.keep(f"{BASE}/alerts", payload, REASON, f"a #{i} update")
    # lines 0-1 | rotate: .1 = [0, 1] | 2-3 | rotate: .1 = [2, 3], replacing 2 | 4-5 | rotate: .1 = [4, 5], 2 more | 6
    older = tmp_path / "mqtt-refused.jsonl.1"
    assert [json.loads(x)["event"] for x in older.read_text().splitlines()] == ["a #4 update", "a #5 update"]
    assert [json.loads(x)["event"] for x in kept.path.read_text().splitlines()] == ["a #6 update"]
    assert kept.path.stat().st_size + older.stat().st_size <= 2 * 1000
    assert kept.stats() == {"path": str(kept.path), "kept": 7, "not_kept": 0, "rotated_away": 4, "problem": None}
    rotations = [r.getMessage() for r in caplog.records if "reached" in r.getMessage()]
    assert len(rotations) == 3 and "replacing 2 older refused event(s)" in rotations[-1], rotations
    assert "replacing" not in rotations[0], rotations


def test_a_full_disk_is_counted_said_once_leaves_whole_lines_and_recovers(small_fs, caplog):
    # A real full disk (tests/small_fs.py: a 2 MiB tmpfs filled): the line that does not fit is cut off again.
    caplog.set_level(logging.WARNING, logger="stad.sink.mqtt")
    kept = RefusedFile(small_fs.path / "mqtt-refused.jsonl")
    assert kept.keep(f"{BASE}/alerts", "{}", REASON, "a #0 new")
    small_fs.fill()
    assert not kept.keep(f"{BASE}/alerts", "y" * 20_000, REASON, "a #1 update")     # more than a page
    assert not kept.keep(f"{BASE}/alerts", "y" * 20_000, REASON, "a #2 update")
    stats = kept.stats()
    assert (stats["kept"], stats["not_kept"]) == (1, 2) and "No space left" in stats["problem"], stats
    assert [json.loads(x)["event"] for x in kept.path.read_text().splitlines()] == ["a #0 new"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot keep a refused event" in errors[0] and "not_kept" in errors[0], errors
    small_fs.free()
    assert kept.keep(f"{BASE}/alerts", "{}", REASON, "a #3 update")
    assert kept.stats()["problem"] is None and kept.stats()["kept"] == 2
    assert "(2 could not be written meanwhile)" in caplog.text, caplog.text
    assert [json.loads(x)["event"] for x in kept.path.read_text().splitlines()] == ["a #0 new", "a #3 update"]
