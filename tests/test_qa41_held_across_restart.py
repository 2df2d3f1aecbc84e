"""A value re-sent because it holds stays marked so across a restart (qa41; user23 left it).

The OPC UA source re-sends a value that holds once a tick (`Record.held`), and a reading of that tick that comes
after it replaces it (user23). The mark lived only in the aligner's open tick: the checkpoint kept the tick's values
and which were seen, not which were held, so after a kill -9 just after a checkpoint — a tick still open for late
samples, restored — the tick's reading was rejected `duplicate` and the stale held value scored, user23's defect
back. The same for a record the checkpoint held for a move of the time base. Both are now checkpointed.

Real parts: the aligner, the checkpoint's own encoder and decoder (the bytes a restart reads), a second aligner
restored from them.
"""
from __future__ import annotations

import time

from agent.checkpoint import decode, encode
from agent.records import Record, Rejects
from agent.time_base_candidates import Candidate, candidates_restore, candidates_state
from agent.window import Aligner

SENSORS = ["flow", "pressure"]


def _aligner(rejects: Rejects) -> Aligner:
    return Aligner(SENSORS, 1.0, carry_forward_s=5, lateness_ticks=1, rejects=rejects)


def _through_a_checkpoint(aligner: Aligner, rejects: Rejects) -> Aligner:
    meta, state = decode(encode({"created": time.time()}, {"aligner": aligner.state_dict()}))
    again = _aligner(rejects)
    again.restore(state["aligner"])
    return again


def test_a_held_value_in_a_tick_open_at_the_checkpoint_gives_way_to_its_reading_after_the_restart():
    rejects = Rejects()
    aligner = _aligner(rejects)
    t0 = float(int(time.time()) - 100)
    rows = []
    for i in range(5):
        rows += aligner.push(Record(ts=t0 + i + 0.1, values={"pressure": 1.0}, origin="opcua x", received=t0 + i))
        rows += aligner.push(Record(ts=t0 + i + 0.2, values={"flow": 32.0}, origin="opcua x (held)", held=True,
                                    received=t0 + i))
    assert 4 in {k - int(t0) for k in aligner.open}       # tick 4 open for late samples, its flow held
    restored = _through_a_checkpoint(aligner, rejects)          # a kill -9 just after this checkpoint
    rows = restored.restored_rows()
    rows += restored.push(Record(ts=t0 + 4 + 0.7, values={"flow": 33.0}, origin="opcua x", received=t0 + 4.8))
    for i in range(5, 9):
        rows += restored.push(Record(ts=t0 + i + 0.1, values={"pressure": 1.0, "flow": 34.0}, origin="opcua x",
                                     received=t0 + i + 0.1))
    at4 = [r for r in rows if r.ts == t0 + 4]
    assert len(at4) == 1, [r.ts - t0 for r in rows]
    assert at4[0].values[0] == 33.0, at4[0].values              # main: 32.0, the stale held value
    assert rejects.counts.get("duplicate", 0) == 0, rejects.counts
    # a second reading of the tick is still a duplicate, the rule unchanged
    again = _aligner(Rejects())
    for i in range(5):
        again.push(Record(ts=t0 + i + 0.2, values={"flow": 32.0}, origin="opcua x (held)", held=True, received=t0 + i))
    back = _through_a_checkpoint(again, again.rejects)
    back.push(Record(ts=t0 + 4 + 0.7, values={"flow": 33.0}, origin="opcua x", received=t0 + 4.8))
    back.push(Record(ts=t0 + 4 + 0.8, values={"flow": 35.0}, origin="opcua x", received=t0 + 4.9))
    assert again.rejects.counts.get("duplicate", 0) == 1, again.rejects.counts


def test_a_held_record_kept_for_a_time_base_move_keeps_its_mark():
    t0 = float(int(time.time()) - 100)
    cand = Candidate(10, Record(ts=t0 + 10.2, values={"flow": 32.0}, origin="opcua x (held)", held=True,
                                received=t0 + 10), span=4)
    cand.add(11, Record(ts=t0 + 11.1, values={"flow": 33.0}, origin="opcua x", received=t0 + 11))
    _, state = decode(encode({"created": time.time()}, {"held": candidates_state([cand], SENSORS)}))
    (back,) = candidates_restore(state["held"], "held", SENSORS)
    assert [rec.held for _, rec in back.records] == [True, False]      # main: [False, False]
    assert [rec.values for _, rec in back.records] == [{"flow": 32.0}, {"flow": 33.0}]
