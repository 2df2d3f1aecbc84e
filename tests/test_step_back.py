"""A step back of the data (qa12): a replay whose stamps go back 2 h mid-file. The aligner had a rule
for a jump forward and none for a step back, so every record was 'late' until the data passed the
old newest tick — 2 h never scored (`rejected 722 (duplicate: 4, late: 718)`). Now records in step
with each other well before the closed ticks are held; 3 of them confirm a step back, which starts
a new time base as a restart on a checkpoint ahead of the host's clock does: the learned state is
kept, the window refills, an alert left open ends ('restart'), the log says it once. A single stray
old stamp still costs only itself ('late')."""
from __future__ import annotations

import json
import logging
import random
import subprocess
import sys

import jsonschema
import yaml

from conftest import agent_env
from restart_helpers import SCHEMA

from agent.config import from_dict
from agent.evaluate.labelled import align
from agent.records import Record, Rejects
from agent.window import Aligner

T0 = 1_767_600_000          # 2026-01-05T08:00:00Z
SAID = ("time base moved back: the data stepped -2.0 h, from 2026-01-05T09:39:50.000Z to "
        "2026-01-05T07:40:00.000Z")


def rows_of_file(n: int = 1800, step_at: int = 600) -> list[dict]:
    """Two sensors every 10 s, from row `step_at` on stamped 2 h earlier (row 599 09:39:50Z, row 600
    07:40:00Z); a step on `a` in rows 560–599, so an alert is open at the step back."""
    out = []
    for i in range(n):
        r = random.Random(i)
        out.append({"ts": T0 + 10 * i - (7200 if i >= step_at else 0),
                    "a": 1 + r.gauss(0, 0.1) + (6.0 if 560 <= i < step_at else 0.0), "b": 1 + r.gauss(0, 0.1)})
    return out


def config(tmp_path) -> dict:
    return {"sensors": ["a", "b"], "tick_s": 10, "warmup": {"ticks": 200}, "scoring": {"chain": ["numpy"]},
            "sources": [{"type": "replay", "path": "back.jsonl", "time_column": "ts"}], "state_dir": "state",
            "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}]}


def test_a_replay_that_steps_back_two_hours_is_scored_through_and_said_once(tmp_path):
    # On the old code: 'rejected 718 (late: 718)', 1082 ticks, and no word of the step back.
    (tmp_path / "back.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_of_file()))
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(config(tmp_path)))
    done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=agent_env())
    assert done.returncode == 0, done.stderr[-3000:]
    summary = [ln for ln in done.stderr.splitlines() if ln.startswith("summary:")][-1]
    assert "summary: 1800 ticks, 1800 records in, rejected 0 " in summary, summary
    assert done.stderr.count("time base moved back") == 1 and SAID in done.stderr, done.stderr[-3000:]
    events = [json.loads(ln) for ln in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    alerts = [e for e in events if e["kind"] == "alert"]
    for e in alerts:
        jsonschema.validate(e, SCHEMA)
    # The alert the step on `a` opened ends at the step (nothing of what raised it is left), on the old time
    # base's last tick: its times are those of the base it was judged on, its start the one its new published
    ends = [e for e in alerts if e["event"] == "end"]
    assert ends and ends[0]["reason"] == "restart" and ends[0]["ts"].startswith("2026-01-05T09:39:50"), ends
    [new] = [e for e in alerts if e["event"] == "new" and e["alert_id"] == ends[0]["alert_id"]]
    assert new["start"] == ends[0]["start"] <= ends[0]["end"] <= ends[0]["ts"], (new, ends[0])


def records(rows: list[dict], live: bool = False, lag_s: float = 1.0) -> list[Record]:
    return [Record(ts=float(r["ts"]), values={"a": r["a"], "b": r["b"]}, origin=f"back.jsonl:{i + 1}",
                   received=float(r["ts"]) + lag_s if live else None) for i, r in enumerate(rows)]


def test_the_evaluators_replay_aligns_a_step_back_as_the_agent_does(caplog):
    cfg = from_dict(config(None) | {"sources": [{"type": "stdin"}]})
    with caplog.at_level(logging.WARNING, logger="stad.aligner"):
        rows = align(cfg, records(rows_of_file()))
    assert len(rows) == 1800 and sum(not r.missing.any() for r in rows) == 1800
    first = [i for i, r in enumerate(rows) if r.rebased_from is not None]
    assert first == [600] and rows[600].rebased_from == T0 + 5990 and rows[600].ts == T0 + 6000 - 7200
    assert [m for m in caplog.messages if "moved back" in m] == [m for m in caplog.messages if SAID in m] != []


def test_a_pair_of_stray_old_stamps_costs_only_itself():
    rj = Rejects()
    recs = records(rows_of_file(400, step_at=10_000))
    stray = [Record(ts=T0 + 10 * j - 7200, values={"a": 1.0}, origin=f"stray:{j}") for j in range(2)]
    rows = Aligner(["a", "b"], 10.0, 20.0, 0, rj).align_all(recs[:300] + stray + recs[300:])
    assert len(rows) == 400 and sum(not r.missing.any() for r in rows) == 400
    assert rj.as_dict() == {"late": 2} and all(r.rebased_from is None for r in rows)


def test_a_live_source_steps_back_within_the_clock_skew_and_not_beyond_it():
    """Live records (stamped by the sender, received now): the same rule, and max_clock_skew_s still
    rejects a stamp far from the host's clock."""
    base = rows_of_file(300, step_at=10_000)
    near = [dict(r, ts=r["ts"] + 3000) for r in base[:200]] + base[200:]     # 50 min back at row 200
    rj = Rejects()
    al = Aligner(["a", "b"], 10.0, 20.0, 0, rj, max_clock_skew_s=0)
    rows = al.align_all(records(near, live=True))
    assert rj.total == 0 and len(rows) == 300 and [r.rebased_from for r in rows if r.rebased_from] == [T0 + 4990]
    rj = Rejects()
    al = Aligner(["a", "b"], 10.0, 20.0, 0, rj, max_clock_skew_s=300)
    live = records(near, live=True)
    for rec in live[200:]:
        rec.received += 3000            # the host's clock went on; the sender's stamps stepped back 50 min
    rows = al.align_all(live)
    assert rj.as_dict() == {"clock skew": 100} and len(rows) == 200


def test_a_recording_read_newest_first_confirms_no_step_back():
    """Each record a tick before the last steps back at every record: no base is confirmed from
    three of them (each would start a time base of its own), they are late as before."""
    rj = Rejects()
    recs = records(rows_of_file(300, step_at=10_000))[::-1]
    rows = Aligner(["a", "b"], 10.0, 20.0, 1, rj).align_all(recs)
    assert all(r.rebased_from is None for r in rows) and rj.as_dict() == {"late": 300 - len(rows)}
    assert len(rows) < 5


def test_a_step_back_being_confirmed_survives_a_checkpoint():
    """Two records of the step back held when the checkpoint is written (a kill -9 right after): the
    restarted aligner confirms the step back with the next record and loses neither. On the old code
    the held records were not in the checkpoint: the new base started two records later, both lost."""
    from conftest import through_file
    recs = records(rows_of_file())
    before = Aligner(["a", "b"], 10.0, 20.0, 0, Rejects())
    rows = [r for rec in recs[:602] for r in before.push(rec)]
    assert len(before.back) == 1 and len(before.back[0].records) == 2        # being confirmed
    state = through_file({"aligner": before.state_dict()})["aligner"]
    rj = Rejects()
    after = Aligner(["a", "b"], 10.0, 20.0, 0, rj)
    after.restore(state)
    rows += [r for rec in recs[602:] for r in after.push(rec)] + after.flush_all()
    assert rj.total == 0 and len(rows) == 1800 and sum(not r.missing.any() for r in rows) == 1800
    assert [(r.ts, r.rebased_from) for r in rows if r.rebased_from] == [(T0 + 6000 - 7200, T0 + 5990)]
    assert after.moves == {"back": 1}


def test_an_aligner_state_from_before_held_records_were_kept_restores():
    old = Aligner(["a", "b"], 10.0, 20.0, 0, Rejects())
    old.align_all(records(rows_of_file(100, step_at=10_000)))
    state = {k: v for k, v in old.state_dict().items() if k not in ("held", "back")}     # main's form before
    new = Aligner(["a", "b"], 10.0, 20.0, 0, Rejects())
    new.restore(state)
    assert (new.next_k, new.held, new.back) == (old.next_k, [], [])


def test_the_host_clock_stepped_back_under_a_source_that_stamps_with_it():
    """UDP/stdin without `ts`, Modbus, OPC UA without a source timestamp: the record's stamp and the
    clock it is checked against are the same host clock, so when NTP steps it back 1 h mid-run the
    stamps step back with no skew to reject: three of them confirm the step back, nothing is lost."""
    rows = rows_of_file(600, step_at=300)
    stepped = [dict(r, ts=r["ts"] + (7200 - 3600 if i >= 300 else 0)) for i, r in enumerate(rows)]   # -1 h
    live = records(stepped, live=True, lag_s=0.0)           # received == ts: stamped on arrival
    rj = Rejects()
    aligner = Aligner(["a", "b"], 10.0, 20.0, 0, rj, max_clock_skew_s=300)
    out = aligner.align_all(live)
    assert rj.total == 0 and len(out) == 600 and sum(not r.missing.any() for r in out) == 600
    assert [(r.ts, r.rebased_from) for r in out if r.rebased_from] == [(T0 + 3000 - 3600, T0 + 2990)]
    assert aligner.moves == {"back": 1} and aligner.last_move["step_s"] == -3590.0
