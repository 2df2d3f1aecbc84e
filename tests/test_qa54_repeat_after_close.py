"""qa54 (qa53's left item): a repeat of readings whose ticks had closed — a file or a queue read again, an MQTT QoS 1
redelivery after a reconnect — was `late` when it was a few ticks back, and further back it was taken for the data's
clock stepping back: three such records in step confirmed it (`time base moved: back 1`), and the window refilled.
The aligner now keeps the newest closed ticks' used readings (bounded: agent/window.py USED_READINGS): a record whose
every usable value is one of them — same sensor, same stamp, same value — is a `repeated reading`, never late and
never a step back. One stamped the same with another value stays `late`, said with the value used.

The real `stad-agent run` replaying a real JSON-lines file with the repeats in it."""
from __future__ import annotations

from jsonl_replay import replayed

T0 = 1_767_225_600


def reading(k: int) -> dict:
    return {"ts": T0 + k, "a": (k * 7) % 11 / 10, "b": (k * 5) % 13 / 10, "c": (k * 3) % 17 / 10}


def test_a_file_read_again_after_its_ticks_closed_is_repeated_not_late_nor_a_step_back(tmp_path):
    records = [reading(k) for k in range(200)]
    records += [reading(k) for k in range(180, 190)]        # lines 201-210: 10-20 ticks back, read again
    records.append(reading(198))                            # line 211: the tick before the newest
    records.append({**reading(185), "b": 9.5})              # line 212: stamped as one used, b another value
    records += [reading(k) for k in range(200, 300)]
    res = replayed(tmp_path, records, ["a", "b", "c"], lateness_ticks=0, carry_forward_s=2)
    summary = next(line for line in res.stderr.splitlines() if "summary:" in line)
    # on 7b3e1fff: "rejected 1 (late: 1); alerts raised 3 …; time base moved: back 1, forward 1" (the repeats 10-20
    # ticks back: three confirmed a step back of -19 s, the window refilled, then the file's next readings a jump of
    # +9 s; and three alerts raised on that)
    assert "time base moved" not in summary and "moved back" not in res.stderr, res.stderr[-3000:]
    assert "rejected 12 (late: 1, repeated reading: 11)" in summary, summary
    said = {n: [line for line in res.stderr.splitlines() if f"r.jsonl:{n}:" in line] for n in (201, 211, 212)}
    assert len(said[201]) == 1, said
    assert f"repeated reading — sensor 'a' value {reading(180)['a']} and 2 more ('b', 'c') at 2026-01-01T00:03:00.000Z: the " \
        "same reading again after its tick closed (same stamp, same value), used once" in said[201][0], said
    assert len(said[212]) == 1 and "late — " in said[212][0] and f"'b' was {reading(185)['b']} at that stamp, this " \
        "one 9.5: not a repeat" in said[212][0], said
