"""A JSON line naming a sensor with no `value` is rejected saying so (user14 sent `{"ts": …, "sensor": "flow"}` and
read `bad number — field 'flow': not a number: None`, which sends one looking at the flow meter). The real line
parser and the real reject counter; the line is counted once, as before, under `bad number`."""
from __future__ import annotations

from agent.records import Rejects
from agent.sources.lines import parse_json_line


def test_a_sensor_without_a_value_is_said_as_such(caplog):
    rejects = Rejects()
    assert parse_json_line('{"ts": 1796480000, "sensor": "flow"}', "udp 127.0.0.1:43092", rejects) is None
    assert rejects.counts == {"bad number": 1}
    assert "sensor 'flow' comes without a 'value' field" in caplog.text, caplog.text
    assert "not a number: None" not in caplog.text
    # a value that is there but null is still a bad number of that sensor
    assert parse_json_line('{"ts": 1796480000, "sensor": "flow", "value": null}', "udp", rejects) is None
    assert rejects.counts == {"bad number": 2} and "field 'flow': not a number: null" in caplog.text
