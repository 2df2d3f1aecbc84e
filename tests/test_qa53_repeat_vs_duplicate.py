"""qa53 (qa52's left item): an exact repeat of a record — same stamp, same values: an MQTT QoS 1 redelivery, a
forwarder that sends each message twice, a line written twice — was counted `duplicate` and told "a sender reporting
more often than tick_s? set tick_s to its reporting period", advice that does not fit a sender repeating itself (an
operator following it would coarsen the tick for nothing). Now the aligner keeps each value's stamp while its tick is open
and tells three cases apart:
- the same reading again: `repeated reading`, said as a sender repeating itself, used once;
- another reading in the tick, stamped differently: `duplicate`, with the tick_s advice (user24's case, unchanged);
- another value stamped the same as the first: `duplicate`, said as two senders of one sensor.

The real `stad-agent run` on a JSON-lines recording with one of each."""
from __future__ import annotations

from jsonl_replay import replayed

T0 = 1_767_225_600


def test_a_repeat_a_faster_sender_and_a_second_sender_are_told_apart(tmp_path):
    records = []
    for k in range(300):
        record = {"ts": T0 + k, "a": (k * 7) % 11 / 10, "b": (k * 5) % 13 / 10}
        records.append(record)
        if k == 100:
            records.append(record)                                  # line 102: the same record again
        if k == 150:
            records.append({"ts": T0 + k + 0.5, "a": 9.0})          # line 153: a second reading of a
        if k == 200:
            records.append({"ts": T0 + k, "a": 7.0})                # line 204: stamped the same, 7.0
    res = replayed(tmp_path, records, ["a", "b"])
    said = {n: [line for line in res.stderr.splitlines() if f"r.jsonl:{n}:" in line] for n in (102, 153, 204)}
    # on 7279aaa8 all three: "duplicate — … (the first is kept; a sender reporting more often than tick_s (1 s)? set
    # tick_s to its reporting period)", the summary "rejected 4 (duplicate: 4)"
    # (one line: the record's two values counted once, qa54; qa53 said and counted each)
    assert len(said[102]) == 1 and all("repeated reading — " in line and "same stamp, same value" in line
                                       and "a sender repeating itself" in line and "tick_s" not in line
                                       for line in said[102]), said
    assert len(said[153]) == 1 and "duplicate — " in said[153][0] and "set tick_s to its reporting period" in \
        said[153][0], said
    assert len(said[204]) == 1 and "duplicate — " in said[204][0] and "stamped the same, 0.3; this one, 7.0" in \
        said[204][0] and "two senders of one sensor" in said[204][0] and "tick_s" not in said[204][0], said
    assert "rejected 3 (duplicate: 2, repeated reading: 1)" in res.stderr, res.stderr[-2000:]
