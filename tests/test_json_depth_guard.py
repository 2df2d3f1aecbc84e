"""JSON nested past json_read.MAX_DEPTH is refused before json.loads recurses into it (final_load42).

Reaching the interpreter's recursion limit was the hazard itself, not only its RecursionError: a garbage collection
that runs at that depth calls finalizers that overflow too ("Exception ignored in sys.unraisablehook", four of them
on paho's network thread in a busy CI run of test_mqtt_sink's nested feedback message). The guard is one function
(json_read.too_deep) in front of every parse of what the agent is sent: a feedback message, a JSON line of a source,
a state file. Real parses of real texts; the refusals as the agent says them."""
from __future__ import annotations

from agent import json_read
from agent.feedback import Refused, parse
from agent.records import Rejects
from agent.sources.lines import loads_object, parse_json_line


def test_depth_is_counted_outside_strings_and_the_limit_is_exact():
    depth = json_read.MAX_DEPTH
    assert not json_read.too_deep("[" * depth + "]" * depth)
    assert json_read.too_deep("[" * (depth + 1) + "]" * (depth + 1))
    assert json_read.too_deep(b"{\"a\":" * (depth + 1) + b"1" + b"}" * (depth + 1))
    # brackets inside strings (escaped quotes too) are text, not nesting
    text = '{"note": "' + "[{" * 5000 + '\\" [[["}'
    assert not json_read.too_deep(text)
    assert json_read.loads(text)["note"].startswith("[{[{")
    # the agent's own documents are shallow: a deep-ish legitimate one still reads
    assert json_read.loads("[" * 50 + "1" + "]" * 50) is not None


def test_a_source_lines_deep_document_is_refused_before_json_recurses():
    """json.loads itself says "maximum recursion depth exceeded while decoding …" — having recursed to the limit; the
    guard's refusal names the nesting instead, before any decoding."""
    try:
        loads_object("[" * 3000 + "]" * 3000)
    except RecursionError as exc:
        assert exc.args == (json_read.NESTED_TOO_DEEP,), exc.args
    else:
        raise AssertionError("a 3000-deep line was read")


def test_a_feedback_message_and_a_source_line_nested_too_deep_are_refused_in_words():
    try:
        parse(b"[" * 3000)
    except Refused as exc:
        assert str(exc) == f"not JSON: {json_read.NESTED_TOO_DEEP}", exc
    else:
        raise AssertionError("a 3000-deep feedback message was taken")
    rejects = Rejects()
    assert parse_json_line('{"ts": 1, "values": ' + "[" * 500 + "]" * 500 + "}", "udp:9", rejects) is None
    assert rejects.counts == {"bad json": 1}, rejects.counts
    where, detail = rejects.first["bad json"]
    assert where == "udp:9" and detail == (f"{json_read.NESTED_TOO_DEEP}: arrays or objects inside one another past "
                                           f"{json_read.MAX_DEPTH} deep"), detail
