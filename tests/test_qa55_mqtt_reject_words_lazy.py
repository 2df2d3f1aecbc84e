"""qa55 (qa54's left item): the MQTT source built its reject details for every reject — payload too long, bad payload,
bad number, bad time, duplicate key — though after a reason's first few the log says one line a minute: in a broker's
replay of a queue of bad messages, words for nothing. Now they are functions, worded only when said (as qa54 made the
aligner's and the JSON reader's); the words are kept. Through a real Mosquitto and the real source."""
from __future__ import annotations

import logging

from agent.records import Rejects

from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures
from mqtt_source_peer import mqtt_source_and_publisher
from conftest import wait_until

FLOOD = 30
BAD = {     # payload on plant/a (sensor a) -> the reason it is counted under
    b"1" * 100: "payload too long",
    b"\xff\xfe1": "bad payload",            # not UTF-8
    b"1_000": "bad payload",                # a number's words, not a number
    b'{"value": null}': "bad number",
    b'{"value": 1, "ts": "yesterday"}': "bad time",
    b'{"value": 1, "value": 2}': "duplicate key",
}


class CountingWords(Rejects):
    """Rejects that count how often a reject's detail was put into words: given as words, or its function called."""
    worded = 0

    def add(self, reason, where, detail=""):
        if isinstance(detail, str):
            CountingWords.worded += 1
            return super().add(reason, where, detail)

        def counted():
            CountingWords.worded += 1
            return detail()
        return super().add(reason, where, counted)


def test_an_mqtt_flood_of_bad_messages_is_counted_and_worded_only_for_the_lines_said(broker, caplog):
    caplog.set_level(logging.WARNING, logger="stad.input")
    CountingWords.worded = 0
    rejects = CountingWords()
    with mqtt_source_and_publisher(broker.port, "qa55-lazy", rejects, max_payload_bytes=64) as (records, _, publish):
        for _ in range(FLOOD):
            for payload in BAD:
                publish("plant/a", payload)
        publish("plant/a", b"7")
        assert next(records).values == {"a": 7.0}, rejects.counts      # (in order on one session: all read)
    assert rejects.as_dict() == {"bad number": FLOOD, "bad payload": 2 * FLOOD, "bad time": FLOOD,
                                 "duplicate key": FLOOD, "payload too long": FLOOD}
    lines = [r.getMessage() for r in caplog.records if r.name == "stad.input"]
    assert len(lines) == 5 * 5, lines      # the first five of each reason
    # on 3ed21786 each of the 180 rejects was worded
    assert CountingWords.worded <= len(lines), (CountingWords.worded, len(lines))
    for words in ("rejected mqtt plant/a: payload too long — 100 bytes, more than max_payload_bytes 64; not read",
                  "rejected mqtt plant/a: bad payload — not UTF-8: byte 0xff at byte 1 of the payload",
                  "rejected mqtt plant/a: bad payload — the payload (sensor 'a'): not a number: '1_000'",
                  "rejected mqtt plant/a: bad number — field 'value' (sensor 'a'): ",
                  "rejected mqtt plant/a: bad time — field 'ts': ",
                  "rejected mqtt plant/a: duplicate key — "):
        assert any(line.startswith(words) for line in lines), (words, lines)
