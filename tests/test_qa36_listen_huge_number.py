"""qa36: `stad-agent listen` shown an alert whose score, threshold or a sensor's contribution is a JSON integer too
large for a float (400 digits: json.loads makes it a Python int; the line's `:.2f` / `:.0%` raises OverflowError).

listen's `_handle` reports and skips what cannot be shown — ValueError, KeyError, TypeError, AttributeError,
IndexError, RecursionError — but not OverflowError: the first such message ends listen with a traceback, and the
real alert after it is never shown. Anyone the broker lets publish on the alerts topic can send it. A real mosquitto
and a real `listen` process, as tests/test_qa9_listen_input.py. Fails on main and on qa36's branch (agent/listen.py
is user18's: the fix is OverflowError in `_handle`'s except; reported in qa36's note).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import alert_event, wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
BASE = "stad/plant-a/gw-7"
HUGE = "1" + "0" * 400

HOSTILE = [
    f'{{"alert_id": "x", "seq": 0, "score": {HUGE}}}'.encode(),
    f'{{"alert_id": "x", "seq": 1, "threshold": {HUGE}}}'.encode(),
    f'{{"alert_id": "x", "seq": 2, "top_sensors": [{{"sensor": "a", "contribution": {HUGE}}}]}}'.encode(),
]


def test_listen_skips_an_alert_whose_numbers_no_float_holds_and_shows_the_rest(tmp_path, broker):
    err = tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(broker.port),
                               "--count", "1", "--timeout", "120"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=err.open("w"), text=True)
    try:
        assert wait_until(lambda: "following" in err.read_text() or listen.poll() is not None)
        for payload in HOSTILE + [json.dumps(alert_event("gw-7-a", 0, "new").to_dict()).encode()]:
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1",
                            "-t", f"{BASE}/alerts", "-s"], input=payload, check=True)
        out, _ = listen.communicate(timeout=120)
    finally:
        if listen.poll() is None:
            listen.kill()
    said = err.read_text()
    assert "Traceback" not in said, said[-3000:]
    assert listen.returncode == 0, said
    assert said.count("listen: not an alert event on") == len(HOSTILE), said
    assert "gw-7-a #0" in out and out.count("\n") == 1, out
