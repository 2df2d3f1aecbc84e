"""The MQTT source reads its payload's `ts` as every other source does (chaos6's "left"; the chaos7 round), and an
offset out of range or malformed is said in our words. Before:
- `{"value": 1, "ts": "9999-12-31T23:59:59Z"}` on a sensor's topic was hinted as a number read in the wrong unit
  ("milliseconds since 1970? … send 253402300.799"): mqtt.py parsed its `ts` itself (parse_time), the record never
  said it was a written date;
- `+12:60` was read as +13:00 (Python carries the minutes), a stamp an hour off taken unsaid;
- `+5:00`, `+1`, `+05:00Z` were "neither a number nor an ISO-8601 time", the date found wrong too.
The real agent, its MQTT source subscribed at a real Mosquitto on a free 127.0.0.1 port, and stdin's JSON lines."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import REPO, agent_env, interrupt_agent, wait_for
from mqtt_broker import broker, make_broker  # noqa: F401 — fixtures

BAD = {     # topic under plant/a/ → payload on a named sensor's topic, and what its line must say
    "date": ({"value": 1, "ts": "9999-12-31T23:59:59Z"}, "9999-12-31T23:59:59Z: a date as the sender wrote it"),
    "number": ({"value": 1, "ts": 253402300799}, "milliseconds since 1970? the agent reads seconds"),
    "minutes": ({"value": 1, "ts": "2026-01-05T08:00:00+12:60"},
                "field 'ts': '2026-01-05T08:00:00+12:60': the UTC offset +12:60 is out of range: its minutes 60 are "
                "past 59"),
    "seconds": ({"value": 1, "ts": "2026-01-05T08:00:00-03:00:75"}, "its seconds 75 are past 59"),
    "short": ({"value": 1, "ts": "2026-01-05T08:00:00+5:00"},
              "field 'ts': '2026-01-05T08:00:00+5:00': the UTC offset +5:00 is malformed: write it ±HH:MM"),
    "zone": ({"value": 1, "ts": "2026-01-05T08:00:00+05:30 IST"}, "the UTC offset +05:30 IST is malformed"),
}


def _config(tmp_path: Path, source: dict) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a"], "sources": [source], "window": {"steps": 8}, "warmup": {"ticks": 50},
        "scoring": {"chain": ["numpy"]}, "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "state_dir": str(tmp_path / "state")}))
    return path


def _publish(port: int, topic: str, payload: str) -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", payload, "-q", "1"],
                   check=True, timeout=30)


def _lines(err: Path, where: str) -> list[str]:
    return [line for line in err.read_text().splitlines() if where in line]


def test_an_mqtt_readings_written_stamp_is_read_as_every_sources(tmp_path, broker):
    config = _config(tmp_path, {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker.port},
                                "topics": {"plant/a/+": "a"}, "qos": 1})
    err = tmp_path / "agent.err"
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config)], cwd=REPO, env=agent_env(),
                            stdout=subprocess.DEVNULL, stderr=err.open("w"))
    try:
        def first_tick() -> bool:     # subscribed once a reading of its own arrives: published until one has
            _publish(broker.port, "plant/a/good", json.dumps({"value": 1.0, "ts": time.time()}))
            return "first tick" in err.read_text()
        wait_for(first_tick, "the agent's first tick from the broker", proc=proc)
        for name, (payload, _) in BAD.items():
            _publish(broker.port, f"plant/a/{name}", json.dumps(payload))
        for name, (_, said) in BAD.items():
            wait_for(lambda: _lines(err, f"mqtt plant/a/{name}"), f"the line of plant/a/{name}", proc=proc)
            line = _lines(err, f"mqtt plant/a/{name}")[0]
            assert said in line, (name, line)
            assert "timedelta" not in line and "Invalid isoformat" not in line, line
        assert "milliseconds" not in _lines(err, "mqtt plant/a/date")[0]
        assert "neither a number nor" not in _lines(err, "mqtt plant/a/short")[0]
        assert proc.poll() is None          # the agent reads on
    finally:
        interrupt_agent(proc)
    assert "Traceback" not in err.read_text()


def test_a_json_lines_offset_out_of_range_or_malformed_is_refused_by_name(tmp_path):
    """stdin (JSON lines) and a CSV replay: `+12:60` was taken as +13:00 there too, unsaid."""
    t0 = int(time.time())
    good = [json.dumps({"ts": t0 + k, "a": k}) for k in range(20)]
    bad = [json.dumps({"ts": "2026-01-05T08:00:00+12:60", "a": 1}), json.dumps({"ts": "2026-01-05T08:00:00+1", "a": 1})]
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(_config(tmp_path, {"type": "stdin"}))],
                          cwd=REPO, env=agent_env(), input="\n".join(good + bad) + "\n", text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    minutes = [line for line in done.stderr.splitlines() if "stdin:21" in line]
    assert len(minutes) == 1 and "bad time" in minutes[0] and "the UTC offset +12:60 is out of range" in minutes[0], \
        done.stderr[-3000:]
    short = [line for line in done.stderr.splitlines() if "stdin:22" in line]
    assert len(short) == 1 and "the UTC offset +1 is malformed" in short[0], done.stderr[-3000:]

    rows = [f"{t0 + k},{k}" for k in range(20)] + ["2026-01-05T08:00:00+0960,1"]
    (tmp_path / "rec.csv").write_text("timestamp,a\n" + "\n".join(rows) + "\n")
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c",
                           str(_config(tmp_path, {"type": "replay", "path": str(tmp_path / "rec.csv")}))],
                          cwd=REPO, env=agent_env(), text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    row = [line for line in done.stderr.splitlines() if "rec.csv:22" in line]
    assert len(row) == 1 and "the UTC offset +0960 is out of range: its minutes 60" in row[0], done.stderr[-3000:]
    assert "time_format" not in row[0], row[0]      # its layout was read: another would not help
