"""perf56: drift's steady tick (every sensor observed and healthy, every lag started, every pair fitted, every row
judged, none over half the limit the tick before) runs observe's paths for it as straight-line code
(Drift._steady_tick, then _judge, or on its calm tick learn's own, _learn_calm); each kept run's feature row is
copied and its g gathered when a fold or a checkpoint reads it (Drift._kept_g); a RecentMean row pushed whole
is marked kept once. Every one gives what the long way gave, bit for bit: a tracker whose drift is made to take
the long way every tick decides alike, and checkpoints alike, on streams with drifts, spikes, stuck and dead
sensors, dropouts and incidents."""
import numpy as np
import pytest

from agent.faults.drift import Drift
from agent.faults.rule import RecentMean
from fault_states import saved as through_checkpoint, text as state_text
from fault_streams import tracker_and_rows


def _events(events) -> list:
    return [(e.event, e.sensor, e.kind, e.ts, e.evidence) for e in events]


@pytest.mark.parametrize("scenario, seed, hours", [("corridor", 0, 12.0), ("pump", 3, 12.0)])
def test_a_tracker_whose_drift_never_takes_the_steady_tick_decides_alike(scenario, seed, hours):
    """The long twin's drift is told before every tick that some row was over half the limit the tick before
    (`_any_over`, as a restore leaves it: not known), which keeps it off the steady tick: observe's general
    path, then learn's. Its every-True masks are then views of ~over rather than the shared ones: the same
    values. Every tick's events and candidates, and the checkpoints, are the short one's."""
    make, rows = tracker_and_rows(scenario, seed, hours)
    short, long = make(), make()
    long.life = short.life
    drift_s = next(r for r in short.rules if isinstance(r, Drift))
    drift_l = next(r for r in long.rules if isinstance(r, Drift))
    steady = calm = 0
    for k, row in enumerate(rows):
        steady += (drift_s._all_started and drift_s._all_fitted and drift_s._all_judged and not drift_s._any_over)
        a = short.observe(row)
        calm += drift_s._calm_learn
        drift_l._any_over = True
        b = long.observe(row)
        assert not drift_l._calm_learn
        assert _events(a) == _events(b), k
        assert np.array_equal(short.candidate, long.candidate), k
        if k % 97 == 0:
            assert state_text(short.state()) == state_text(long.state()), k
    assert state_text(short.state()) == state_text(long.state())
    assert steady > 300 and calm > 40, (steady, calm, len(rows))      # (both ways taken, many times)


def test_the_kept_runs_g_through_a_checkpoint_is_the_gather_of_their_feature_rows():
    """A checkpoint taken between two refits carries each kept run's g as observe gathered it before perf56 (the
    feature row's entries at g_index); a tracker restored from it, whose first kept runs' g is the checkpoint's
    and the later ones gathered from their feature rows, folds, decides and checkpoints as the one that ran on."""
    make, rows = tracker_and_rows("corridor", 1, 10.0)
    ran = make()
    drift = next(r for r in ran.rules if isinstance(r, Drift))
    cut = None
    for k, row in enumerate(rows):
        last = ran.observe(row)
        if k > len(rows) // 2 and 3 <= drift._filled < drift.refit_runs - 2 and cut is None:
            kept = drift._filled
            want = np.stack([drift._xr[j][drift.g_index] for j in range(kept)])
            state = ran.state()
            got = state["rules"]["drift"]["kept"]["g"]
            assert np.asarray(got).tobytes() == want.reshape(kept, -1).tobytes()
            restored = make()
            restored.life = ran.life
            restored.restore(through_checkpoint(state))
            cut = k
            continue
        if cut is not None:
            assert _events(restored.observe(row)) == _events(last), k
    assert cut is not None
    assert state_text(ran.state()) == state_text(restored.state())


def test_a_ring_row_pushed_whole_is_marked_kept_once_and_a_partial_one_unmarks_it():
    """RecentMean.push: a row pushed whole writes `kept` all True once (a row kept whole before is all True
    already); a partial push writes its mask and forgets the mark; a restore forgets every mark. `kept` is
    every push's mask, checked against a plain record over several laps of the ring and a restore."""
    rng = np.random.default_rng(56)
    n, size = 5, 7
    ring = RecentMean(size, n)
    want = np.zeros((size, n), bool)
    for k in range(60):
        h = ring.head
        if rng.random() < 0.6:
            row = ring.next_row()
            row[...] = rng.random(n)
            ring.push(np.zeros(n, bool), None)          # (value None: every sensor kept, the mask not read)
            want[h] = True
        else:
            kept = rng.random(n) < 0.5
            ring.push(kept, rng.random(n))
            want[h] = kept
        assert np.array_equal(ring.kept, want), k
        if k == 30:
            rows, head = ring.rows(), ring.head
            ring = RecentMean(size, n)
            ring.set_rows(rows, head)
    assert np.array_equal(ring.kept, want)
