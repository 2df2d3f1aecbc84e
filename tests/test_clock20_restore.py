"""A checkpoint written at 1-ms ticks restores fast and to the same state (clock20).

A restore used to write and scan the fault tracker's rings whole — stuck's 600,000 rows and drift's
1.2 million departures at 1-ms ticks, of which a short run holds a few hundred — and now writes the
rows they hold into fresh zeros and finds the blame's marks from those rows. The old path is gone, so
the restored state is held to: the ticks after a restore decide what an uninterrupted run decides and
end in its state; and a checkpoint main's code wrote before the change (tests/fixtures/clock20_d59bcc4.*,
made by tests/fixtures/make_clock20_fixture.py with main d59bcc4) restores to what main's own restore
of it decided, tick by tick, and to the state it ended in."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent import alert_events
from agent.checkpoint import decode, fingerprint, mismatch
from agent.faults.rule import RecentMean
from agent.faults.tracker import FaultTracker
from agent.pipeline import Pipeline
from agent.topology import adjacency
from conftest import through_file
from fast_tick_runs import corridor, digests, fixed_lives, outputs, state_digest, state_summary, with_faults
from fault_states import assert_close

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_checkpoint_main_wrote_at_1_ms_ticks_restores_to_what_main_restored():
    """The fixture: main d59bcc4's checkpoint of the corridor at 1-ms ticks after 300 ticks (a sensor's
    `missing` fault open in it), and what main's restore of it decided over the next 300 ticks (two
    spikes, an alert) and the state it ended in. This restore decides the same, tick by tick: the same ticks
    raise events, every value the same, floats to 1e-9 relative (the fixture was made on another machine, whose numpy may round a
    sum's last bit otherwise; fault_states.assert_close)."""
    want = json.loads((FIXTURES / "clock20_d59bcc4.json").read_text())
    meta, state = decode((FIXTURES / "clock20_d59bcc4.ckpt").read_bytes())
    cfg, rows = corridor(want["tick_s"], want["before"] + want["after"],
                         settings=("faults.drift_moved_alone=true", "scoring.numpy.seasonal_periods_s=[]"))
    rows = with_faults(rows, want["before"])
    assert mismatch(meta["config"], fingerprint(cfg, adjacency(cfg.sensor_specs(), cfg.topology), None)) is None
    assert "S02_occ" in state["pipeline"]["health"]["ids"][4]                           # a fault open
    assert any(o["alerts"] for o in want["outputs"]) and any(o["faults"] for o in want["outputs"])   # events after
    pipe = Pipeline(cfg)
    pipe.restore(state["pipeline"])
    fixed_lives(pipe)
    got = [outputs(pipe.step(row)) for row in rows[want["before"]:]]
    assert [(o["alerts"], o["faults"]) != ([], []) for o in got] == [(o["alerts"], o["faults"]) != ([], [])
                                                                      for o in want["outputs"]]
    # An alert's `top_steps` came from the model's attention or the worst sensor's deviation when the fixture was
    # made; since explain1 they are the top sensors' change points on every tier (agent/alert_events.py), a rule
    # of what an alert says, not of the restored state: each is still a step of the alert's window, at or before it.
    got, want_outputs = json.loads(json.dumps(got)), json.loads(json.dumps(want["outputs"]))
    for o in got + want_outputs:
        for a in o["alerts"]:
            steps = a.pop("top_steps")
            assert steps and all(s["ts"] <= a["ts"] for s in steps), a
    # explain2: the sensors are named by where (agent/alert_events.py `named_order`), a rule of what an alert says as
    # well: each names first a sensor scoring at least NAMED_AMONG of the top score main named first.
    for o, w in zip(got, want_outputs):
        for a, main in zip(o["alerts"], w["alerts"]):
            tops, main_tops = a.pop("top_sensors"), main.pop("top_sensors")
            assert tops[0]["score"] >= alert_events.NAMED_AMONG * main_tops[0]["score"] - 1e-4, (tops, main_tops)
            assert {a.pop("origin"), main.pop("origin")} <= {s.split("_", 1)[0] for s in cfg.sensor_names()}
    assert_close(got, want_outputs, path="outputs")
    # The `source` fault kind (faults/source.py) came after the fixture: its count restores as 0 from a
    # checkpoint that has none; everything main recorded is held as it was.
    assert want["state"]["health"]["raised"].setdefault("source", 0) == 0
    assert want["state"]["health"]["raised"].setdefault("never_varied", 0) == 0     # (faults16, as `source`)
    got_state = json.loads(json.dumps(state_summary(pipe.state_dict())))
    # stuck's `repeat_high` (faults2: the repeat rate's bound when a run began) came after the fixture too: a
    # checkpoint without it restores it as the repeat rate; a bound of a rate, one per sensor, in [0, 1].
    # spike's `since_gap` (faults17: a sensor's steps counted since a gap of the tracker, judged from its 11th) came
    # after it too: None once every sensor is past it, else a count a sensor, none negative.
    since_gap = got_state["health"]["rules"]["spike"].pop("since_gap")
    assert since_gap is None or (isinstance(since_gap, dict) and since_gap.get("nan", 0) == 0), since_gap
    # the fusion's bounded inputs (faults18: sensors flat through the warm-up, clipped to what it saw where they feed
    # a neighbour's mean) came after it as well: a checkpoint without them restores none bounded.
    assert got_state["numpy"]["fusion"].pop("inputs") == {"index": [], "lo": [], "hi": []}
    high = got_state["health"]["rules"]["stuck"].pop("repeat_high")
    assert len(high) == len(got_state["health"]["rules"]["stuck"]["repeat"]) and all(0.0 <= h <= 1.0 for h in high)
    # never_varied (faults16: a sensor reading one value since its first tick) came after the fixture: a checkpoint
    # without it restores it as unlearned — one entry a sensor, nothing judged by it in this run (no such fault above).
    never = got_state["health"]["rules"].pop("never_varied")
    assert len(never["varied"]) == len(never["moved"]) == len(cfg.sensor_names()), never
    assert not any(f.get("kind") == "never_varied" for o in got for f in o["faults"])
    # the alerts' `after_fault` (faults4: the fault an alert ended with, while it lasts) came after it as well: no
    # alert of this run ended with a sensor fault, so it restores and stays None.
    assert got_state["alerts"].pop("after_fault") is None
    assert got_state["alerts"].pop("residue") == 0      # (faults6: the wait on that fault's residue, none)
    assert got_state["alerts"].pop("residue_floor") == {}   # (skab41: the demo's profile is off, no residue rule)
    assert got_state["alerts"].pop("tier") == pipe.chain.tier     # (review34: the tier it last judged)
    assert got_state["alerts"].pop("aside") == [None, 0.0]      # (review35: nothing put aside: no tier step)
    # Its open alert's re-judging fields too: no fault began with this alert, so none re-judges it.
    opened = got_state["alerts"]["open"]
    assert opened.pop("fault") is None and opened.pop("fault_calm") == 0 and opened.pop("fault_now") is False
    assert opened.pop("unheard") == 0       # (the lead's no data: none of its drivers went silent)
    assert opened.pop("judge_after_refill") is False    # (clock25: no restart gap in this run)
    assert (opened.pop("score_peak"), opened.pop("level_high"), opened.pop("residue_ticks")) == ({}, {}, 0)  # skab41
    assert set(opened.pop("opened_on")) <= set(cfg.sensor_names())
    # (explain1: its explanation's `top_steps` by today's rule, as for the events above: steps of its window)
    for explained in (opened, want["state"]["alerts"]["open"]):
        steps = explained["explain"].pop("top_steps")
        assert steps and all(set(s) == {"ts", "weight"} for s in steps), explained
    # (explain2: named by where, the score's order kept as `by_score` when it differs: that is main's top sensors)
    named = opened["explain"].pop("top_sensors")
    assert opened["explain"].pop("by_score", named) == want["state"]["alerts"]["open"]["explain"].pop("top_sensors")
    for explained in (opened, want["state"]["alerts"]["open"]):
        explained["explain"].pop("origin")      # (the first named's station: the alert's own `origin` is held as main's)
    assert opened.pop("model_peak") is None     # (review33: no model change in this run)
    # faults5's `station` kind as well: its count restores as 0, as `source`'s did.
    assert got_state["health"]["raised"].pop("station") == 0
    # faults6: a fault of a sensor with station mates is kept as a lone fault they may join (none joined here)
    lone = got_state["health"].pop("stations")
    assert lone and all(g["head"] and g["sensors"] == [g["head"]] and not g["joined"] for g in lone), lone
    # qa43: the sensors whose never-read wait has run once (`missing`'s `waited`); a checkpoint without it restores
    # none marked. One flag per sensor.
    waited = got_state["health"]["rules"]["missing"].pop("waited")
    assert len(waited) == len(cfg.sensor_names()) and all(w in (True, False) for w in waited), waited
    assert_close(got_state, want["state"], path="state")


@pytest.mark.parametrize("restore_at", [150, 300, 355, 420])
def test_a_1_ms_checkpoint_restores_to_the_uninterrupted_run(restore_at):
    """Restored through the checkpoint file at a tick (before, inside and after the sensor faults), the
    pipeline's next ticks give the scores, alerts and fault events an uninterrupted run gives, and it
    ends in the same state (every ring, sum and mark). `threshold.quiet_s` 0: the last tick above the
    threshold is not checkpointed by design (detector.py: a restart may learn up to quiet_s of a tail),
    and at 1-ms ticks the corridor's 600 s are the whole run."""
    cfg, rows = corridor(0.001, 600, settings=("faults.drift_moved_alone=true", "threshold.quiet_s=0"))
    rows = with_faults(rows, 300)
    straight, restored = Pipeline(cfg), Pipeline(cfg)
    fixed_lives(straight)
    fixed_lives(restored)
    ran_on, after = [], []
    for k, row in enumerate(rows):
        if k == restore_at:
            restored.restore(through_file(straight.state_dict()))
            fixed_lives(restored)
        out = outputs(straight.step(row))
        if k >= restore_at:
            ran_on.append(out)
            after.append(outputs(restored.step(row)))
    assert any(o["faults"] for o in ran_on) or restore_at > 410
    assert digests(after) == digests(ran_on)
    assert state_digest(restored) == state_digest(straight)


def _marks_by_scan(history: np.ndarray, head: int, n: int, calm_lim: np.ndarray, break_lim: float):
    """The marks as the whole-ring scan found them before clock20 (the ring rolled oldest first)."""
    size = history.shape[0]
    a = np.abs(np.roll(history[:, n:], -head, axis=0))
    calm_at = np.empty((2, a.shape[1]), np.int64)
    for k in range(2):
        calm = a <= calm_lim[k]
        calm_at[k] = np.where(calm.any(axis=0), size - 1 - np.argmax(calm[::-1], axis=0), -1)
    break_at = np.empty(a.shape[1], np.int64)
    for s in range(a.shape[1]):
        over = np.flatnonzero(a[calm_at[0, s] + 1:, s] > break_lim)
        break_at[s] = calm_at[0, s] + 1 + over[0] if over.size else calm_at[0, s]
    return calm_at, break_at


def test_the_marks_found_from_the_rows_held_are_the_whole_ring_scans():
    """Rings of 40 rows (the corridor's departures at 30-s ticks) holding 0 to 40 rows, the rest zeros,
    every head: the marks found from the rows held (a restore) and from the whole ring are the scan's —
    calm runs, breaks, NaN, and limits under which the zeros are not calm, or past the limit."""
    cfg, _ = corridor(30.0, 1)
    tracker = FaultTracker(cfg.sensor_specs(), cfg.topology, cfg.tick_s, cfg.faults)
    drift = next(r for r in tracker.rules if r.KIND == "drift")
    size, m, n = drift.history.shape[0], drift.history.shape[1], drift.n
    rng = np.random.default_rng(20)
    limits = [(drift._calm_lim.copy(), drift._break_lim), (np.array([[-1.0], [-0.5]]), -0.25),
              (np.array([[np.nan], [1.0]]), np.nan)]
    checked = 0
    for calm_lim, break_lim in limits:
        drift._calm_lim, drift._break_lim = calm_lim, break_lim
        for held in (0, 1, 7, 39, 40):
            for head in range(size):
                ring = np.zeros((size, m))
                ring[:held] = rng.normal(scale=4.0, size=(held, m)) * (rng.random((held, m)) < 0.8)
                ring[:held][rng.random((held, m)) < 0.05] = np.nan
                want = _marks_by_scan(ring, head, n, calm_lim, break_lim)
                drift.history, drift.history_head = ring, head
                for rows in (ring[:held], None):
                    drift._mark_history(rows)
                    assert np.array_equal(drift._calm_at, want[0]) and np.array_equal(drift._break_at, want[1]), \
                        (held, head, rows is None)
                    assert drift._written == drift._marked == size
                    checked += 1
    assert checked == 3 * 5 * size * 2


def test_a_ring_restored_from_the_rows_it_holds_is_the_ring_restored_whole():
    """RecentMean.set_rows from the rows a checkpoint holds (its trailing rows with nothing kept left out)
    and from the whole ring (those rows NaN) give the same ring, to every count and bit of its sums, and
    read the same means after further pushes; with the sums and without (a checkpoint from before them)."""
    rng = np.random.default_rng(7)
    size, n = 300, 4
    ran = RecentMean(size, n)
    for t in range(170):
        kept = rng.random(n) < 0.9
        value = np.abs(rng.normal(size=n)) * (rng.random(n) < 0.95)
        value[rng.random(n) < 0.02] = np.inf
        ran.push(kept, value)
    held = ran.ring()["rows"]
    assert 0 < len(held) < size
    for sums in (ran.sums(), None):
        a, b = RecentMean(size, n), RecentMean(size, n)
        a.set_rows(held, ran.head, sums)
        b.set_rows(ran.rows(), ran.head, sums)
        for name in ("zeroed", "kept", "finite", "_sum", "_peak", "_short", "_pinf", "_ninf"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        for name in ("_row_full", "_row_inf", "_short_rows", "_infs", "_since", "head"):
            assert getattr(a, name) == getattr(b, name), name
        for t in range(400):
            kept, value = rng.random(n) < 0.9, np.abs(rng.normal(size=n))
            a.push(kept, value)
            b.push(kept, value)
            assert np.array_equal(a.mean(), b.mean(), equal_nan=True)


def test_a_large_checkpoint_is_hashed_by_openssl_to_the_same_digest_and_still_checked():
    """Past _OPENSSL_BYTES (the rings full at 1-ms ticks: 317 MB) the sha256 is OpenSSL's: the digest the
    builtin gives (a checkpoint written before reads), the same round trip, and a flipped or cut body still
    refused."""
    from agent import checkpoint
    from agent.checkpoint import CheckpointRefused, encode
    from agent.digest import sha256
    openssl_sha256 = pytest.importorskip("_hashlib", reason="a Python built without OpenSSL").openssl_sha256
    ring = np.random.default_rng(3).normal(size=(checkpoint._OPENSSL_BYTES // 8 + 1000, 1))
    data = encode({"config": {}}, {"ring": ring})
    assert len(data) > checkpoint._OPENSSL_BYTES
    assert sha256(data[:-32]).digest() == openssl_sha256(data[:-32]).digest() == data[-32:]
    assert type(checkpoint._hasher(len(data))) is type(openssl_sha256())
    assert np.array_equal(decode(data)[1]["ring"], ring)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    with pytest.raises(CheckpointRefused, match="sha256 mismatch"):
        decode(bytes(flipped))
    with pytest.raises(CheckpointRefused, match="truncated"):
        decode(data[:-1000])
