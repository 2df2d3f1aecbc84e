"""Validate what the sinks emit against the shipped JSON schemas (agent/schemas/).

`check_jsonl(path)` validates every line of a jsonl sink's file (alert lines have `kind` alert,
fault lines `event` fault / fault_update / fault_end); `check_mqtt(topic, payload)` validates one MQTT message by
its topic's last level.
Both return what they validated, so a test can also assert that there was something to check.
"""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).resolve().parent.parent / "agent" / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


VALIDATORS = {name: jsonschema.Draft202012Validator(schema(name), format_checker=jsonschema.FormatChecker())
              for name in ("alert", "fault", "health", "feedback", "feedback_result")}


def check(name: str, payload: dict) -> dict:
    errors = sorted(VALIDATORS[name].iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, (f"{name} payload fails {name}.schema.json: "
                        + "; ".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors)
                        + f"\n{json.dumps(payload)[:600]}")
    return payload


def check_jsonl(path: Path) -> list[dict]:
    """Every line of a jsonl sink's file; returns the parsed lines."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    for line in lines:
        name = "fault" if line.get("event") in ("fault", "fault_update", "fault_end") else line.get("kind")
        assert name in ("alert", "fault"), f"a jsonl line that is neither an alert nor a fault event: {line}"
        check(name, line)
    return lines


def check_mqtt(topic: str, payload: str | bytes) -> dict | str:
    """One message of the MQTT sink, by topic: alerts, faults and health are JSON, status is text."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    kind = topic.rsplit("/", 1)[-1]
    if kind == "status":
        assert text in ("online", "offline"), f"{topic}: {text!r}"
        return text
    if topic.endswith("/feedback/result"):
        kind = "feedback_result"
    name = {"alerts": "alert", "faults": "fault", "health": "health", "feedback_result": "feedback_result"}[kind]
    return check(name, json.loads(text))
