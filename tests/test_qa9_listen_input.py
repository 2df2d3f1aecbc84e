"""`stad-agent listen` against messages on the alerts topic that are not alert events (anyone the
broker lets publish there can send them): each is reported and skipped, and listen goes on to the
real alert events — no traceback ending it. A real mosquitto and a real `listen` process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import alert_event, wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
BASE = "stad/plant-a/gw-7"

HOSTILE = [
    b'{"alert_id": "x", "seq": 0, "score": "high"}',
    b'{"alert_id": "x", "seq": 1, "top_sensors": [1, 2]}',
    b'{"alert_id": "x", "seq": [2]}',
    b'{"alert_id": ["x"], "seq": 3}',
    b'[' * 100_000,
    b'\xff\xfe not utf-8',
    b'"just a string"',
    # numbers no float holds (qa36: OverflowError in the line's formatting ended listen with a traceback)
    b'{"alert_id": "x", "seq": 4, "score": 1' + b'0' * 400 + b'}',
    b'{"alert_id": "x", "seq": 5, "threshold": 1' + b'0' * 400 + b'}',
    b'{"alert_id": "x", "seq": 6, "top_sensors": [{"sensor": "a", "contribution": 1' + b'0' * 400 + b'}]}',
]


def listened(tmp_path, broker, count: int, messages: list[tuple[str, bytes]]) -> tuple[int, str, str]:
    """A real `listen` until it has shown `count` events, `messages` published to the broker meanwhile (QoS 1, in
    order); its exit code, stdout and stderr."""
    err = tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(broker.port),
                               "--count", str(count), "--timeout", "120"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=err.open("w"), text=True)
    try:
        assert wait_until(lambda: "following" in err.read_text() or listen.poll() is not None)
        for topic, payload in messages:
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1",
                            "-t", topic, "-s"], input=payload, check=True)
        out, _ = listen.communicate(timeout=120)
    finally:
        if listen.poll() is None:
            listen.kill()
    return listen.returncode, out, err.read_text()


def test_listen_skips_what_is_not_an_alert_event_and_shows_the_rest(tmp_path, broker):
    # On the old code the first message ended listen with a traceback (ValueError in alert_line).
    real = json.dumps(alert_event("gw-7-a", 0, "new").to_dict()).encode()
    code, out, said = listened(tmp_path, broker, 1, [(f"{BASE}/alerts", p) for p in HOSTILE + [real]])
    assert code == 0, said
    assert "Traceback" not in said and said.count("listen: not an alert event on") == len(HOSTILE), said
    assert "gw-7-a #0" in out and out.count("\n") == 1, out


def test_the_keys_of_shown_events_are_bounded_and_the_oldest_forgotten_first():
    # Listener.seen was a set of every (alert_id, seq) ever shown: a console left running for months
    # grew without bound (QA pass 9, found and left). Now the last `size` keys drop replayed copies.
    from agent.listen_events import RecentKeys
    keys = RecentKeys(size=3)
    assert [keys.add(("a", i)) for i in range(3)] == [True] * 3
    assert keys.add(("a", 1)) is False                  # a replayed copy within the bound: dropped
    assert keys.add(("a", 3)) is True and len(keys) == 3
    assert keys.add(("a", 0)) is True                   # the oldest was forgotten: shown again
    assert keys.add(("a", 3)) is False and len(keys) == 3


def test_the_same_alert_id_and_seq_from_two_sites_are_both_shown(tmp_path, broker):
    # Ids are unique per gateway (site and node), not across a fleet: two sites may each run a node gw-7, and their
    # alerts opened on one tick in one life-suffix collision share (alert_id, seq). On the old code listen keyed
    # its replay filter by (alert_id, seq) alone and dropped the second site's event as a replayed copy (user28).
    payload = json.dumps(alert_event("gw-7-a", 0, "new").to_dict()).encode()
    code, out, said = listened(tmp_path, broker, 2, [(f"{BASE}/alerts", payload), ("stad/plant-b/gw-7/alerts", payload),
                                                     (f"{BASE}/alerts", payload)])     # the last: a replayed copy
    assert code == 0, said
    assert out.count("gw-7-a #0") == 2, out
