"""The reasons the metrics endpoint serves from 0 are every reason the code counts, and no other.

Prometheus's increase() and rate() count from a series' first sample, so a counter whose series
appears only with its first count loses that count; agent/prometheus.py therefore serves every
reject reason (agent/records.py REJECT_REASONS) and every sink's drop reasons (Sink.DROP_REASONS)
from 0. Those lists are written by hand beside code that counts by string literal: this reads the
code's literals (the first argument of `rejects.add` / `add_many`, a `rejects.counts[...]` key, a
reason given to the outbox's `_count` / `_delete` / `drop`) so that a new reason cannot be
counted without being served from 0, and a reason no longer counted is not served for ever."""
from __future__ import annotations

import ast
from pathlib import Path

from agent.records import REJECT_REASONS
from agent.sinks.jsonl import JsonlSink
from agent.sinks.mqtt import MqttSink
from agent.sinks.terminal import TerminalSink

AGENT = Path(__file__).resolve().parent.parent / "agent"


def literal_reasons(paths, is_count) -> dict[str, list[str]]:
    """String literals the code counts under, by `is_count(node) -> the reason node or None`."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            reason = is_count(node)
            if reason is None or (isinstance(reason, ast.Name) and reason.id == "reason"):
                continue        # not a count, or a helper passing on its caller's reason (the caller is read)
            where = f"{path.relative_to(AGENT.parent)}:{node.lineno}"
            assert isinstance(reason, ast.Constant) and isinstance(reason.value, str), \
                f"{where}: a reason that is not a string literal cannot be checked here: {ast.unparse(node)}"
            found.setdefault(reason.value, []).append(where)
    return found


def reject_reason(node):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("add", "add_many"):
        if "rejects" in ast.unparse(node.func.value):
            return node.args[0]
    if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("rejects.counts"):
        return node.slice
    return None


def test_every_reject_reason_counted_is_served_from_zero_and_no_other():
    counted = literal_reasons(AGENT.rglob("*.py"), reject_reason)
    assert len(counted) >= 30, "the scan found too few reasons to be reading the code"
    assert sorted(set(counted) - set(REJECT_REASONS)) == [], "counted but not in agent/records.py REJECT_REASONS"
    assert sorted(set(REJECT_REASONS) - set(counted)) == [], "in REJECT_REASONS but counted nowhere"
    assert len(set(REJECT_REASONS)) == len(REJECT_REASONS)


def outbox_drop_reason(node):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "_count" and node.args:
            return node.args[0]
        if node.func.attr in ("_delete", "drop") and len(node.args) == 2:
            return node.args[1]
    return None


def test_the_mqtt_sinks_drop_reasons_are_the_outboxs_and_the_brokers():
    counted = literal_reasons([AGENT / "outbox.py", AGENT / "sinks" / "mqtt.py"], outbox_drop_reason)
    assert set(counted) == set(MqttSink.DROP_REASONS), counted


def test_the_line_sinks_count_drops_by_the_kind_of_line():
    # jsonl and terminal count a line they could not write by its kind: the two kinds of event they get.
    for sink in (JsonlSink, TerminalSink):
        text = (AGENT / "sinks" / f"{sink.TYPE}.py").read_text()
        assert sink.DROP_REASONS == ("alert", "fault")
        for kind in sink.DROP_REASONS:
            assert f'"{kind}"' in text, (sink.TYPE, kind)
