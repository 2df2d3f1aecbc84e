"""`stad-agent listen` looks at its SUBACK (qa28): a real `listen` process at a real Mosquitto whose
dynamic-security ACL refuses some of its filters (tests/mqtt_acl.py).

Before: listen never looked at the SUBACK; a user whose ACL refused the alert topics saw `following …`
and then nothing, for ever (with --timeout: `timed out … with 0 of 1 alert events`). Now a refused alerts
filter ends listen at once, exit 1, naming the filter and the broker's reason; a refused faults or status
filter is warned of and the alerts still shown.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import alert_event, free_port, wait_until
from agent.sinks.mqtt import encode_json
from mqtt_acl import PASSWORD, make_acl_broker  # noqa: F401 — make_acl_broker: a pytest fixture

REPO = Path(__file__).resolve().parent.parent
BASE = "stad/plant-a/gw-7"


def listen(tmp_path: Path, port: int, *extra: str) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "ops.pw").write_text(PASSWORD + "\n")
    err = tmp_path / "listen.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(port),
                             "--username", "ops", "--password-file", str(tmp_path / "ops.pw"), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=err.open("w"), text=True)
    return proc, err


def finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out


@pytest.mark.parametrize("protocol, reason", [
    ("5", "Not authorized (reason code 0x87)"),
    ("3.1.1", "refused (MQTT 3.1.1 return code 0x80, which gives no reason: most often the broker's ACL)")])
def test_a_refused_alerts_subscription_ends_listen_with_exit_1_naming_it(tmp_path, make_acl_broker, protocol, reason):
    broker = make_acl_broker({"ops": {"read": ["stad/+/+/status", "stad/+/+/faults"]}})     # not the alerts
    # --timeout 600: on the old code listen waited all of it; the test's own bound is far shorter.
    proc, err = listen(tmp_path, broker.port, "--protocol", protocol, "--count", "1", "--timeout", "600")
    finish(proc, timeout=60)
    said = err.read_text()
    assert proc.returncode == 1, said
    assert (f"listen: giving up, the broker refuses the subscription to stad/+/+/alerts: {reason}; no alert can "
            f"reach listen — does the broker's ACL let user 'ops' read it?") in said, said
    assert "Traceback" not in said


def test_refused_faults_and_status_are_warned_of_and_the_alerts_still_shown(tmp_path, make_acl_broker):
    broker = make_acl_broker({"ops": {"read": ["stad/+/+/alerts"]}, "gw": {"write": [f"{BASE}/alerts"]}})
    proc, err = listen(tmp_path, broker.port, "--count", "1", "--timeout", "600", "--json")
    try:
        # The warnings come with the SUBACK: the granted alerts subscription is in place from then on.
        assert wait_until(lambda: "node status changes (offline) are not shown" in err.read_text(), 60, proc), \
            err.read_text()
        gw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw-{free_port()}", protocol=mqtt.MQTTv5)
        gw.username_pw_set("gw", PASSWORD)
        gw.connect("127.0.0.1", broker.port)
        gw.loop_start()
        event = alert_event("gw-7-a", 0, "new")
        gw.publish(f"{BASE}/alerts", encode_json(event.to_dict()), qos=1).wait_for_publish(30)
        gw.loop_stop()
        gw.disconnect()
        out = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    said = err.read_text()
    assert proc.returncode == 0, said
    assert '"alert_id":"gw-7-a"' in out, (out, said)
    for topic, what in (("faults", "sensor faults"), ("status", "node status changes (offline)")):
        lines = [x for x in said.splitlines() if f"refuses the subscription to stad/+/+/{topic}" in x]
        assert len(lines) == 1 and "WARNING" in lines[0] and f"{what} are not shown" in lines[0], said
        assert "Not authorized (reason code 0x87)" in lines[0] and "Alerts are followed still" in lines[0], lines
