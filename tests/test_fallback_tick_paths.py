"""The fallback's per-tick paths (perf19) give the bits of their definitions: the Markov chain's
probabilities from the flat index, its learning on a tick with missing sensors (every sensor's
entries + g where seen in both rows, + 0.0 elsewhere), a sensor back after a gap (the first step
from its last state taken as that state's row of the transition matrix); the seasonal profile's
learning of the seen sensors; fusion's neighbour mean from the caller's seen mask."""
import numpy as np

from agent.scorers.fusion import FusionModel
from agent.scorers.markov import MarkovModel
from agent.scorers.seasonal import SeasonalProfile
from agent.window import WindowBuffer


def fitted(seed: int, n: int = 6, k: int = 5):
    rng = np.random.default_rng(seed)
    z = np.zeros((2400, n))
    for t in range(1, len(z)):
        z[t] = 0.8 * z[t - 1] + rng.normal(0, 1, n)
    miss = rng.random(z.shape) < 0.08
    z = np.where(miss, 0.0, z).astype(np.float32)
    m = MarkovModel(n, k, 0.5, 0.999)
    m.fit(z[:2000], miss[:2000])
    m.calibrate(z[:2000], miss[:2000])
    return m, z[2000:], miss[2000:]


def test_probabilities_and_learning_on_ticks_with_missing_sensors_are_the_definitions():
    m, z, miss = fitted(11)
    n, k = m.n, m.k
    buf = WindowBuffer(8, n)
    learned_with_missing = 0
    for t in range(len(z)):
        buf.push(z[t], miss[t], float(t))
        if not buf.ready:
            continue
        s0, s1 = m.transitions(buf)
        assert np.array_equal(s0, m.states(buf.values[-2])) and np.array_equal(s1, m.states(buf.values[-1]))
        a = m.alpha * m.g
        r = np.arange(n)
        want = (m.counts[r, s0, s1] + a) / (m.rowsum[r, s0] + k * a)
        assert np.array_equal(m._prob(s0, s1), want)
        table = m._table.copy()
        g = m.g / m.lam
        both = ~buf.missing[-1] & ~buf.missing[-2]
        for i in np.flatnonzero(both):
            table[i, s0[i], s1[i]] += g
            table[i, s0[i], k] += g
        missing = bool(buf.missing[-2:].any())
        m.learn(buf, (s0, s1))
        if m.g == g:                    # (not rescaled this tick: the table is comparable entry by entry)
            assert np.array_equal(m._table, table)
            learned_with_missing += missing
    assert learned_with_missing >= 100          # ticks with a missing sensor compared entry by entry


def test_a_sensor_back_after_a_gap_gets_the_one_hot_propagation_bit_for_bit():
    m, z, miss = fitted(12)
    n, k = m.n, m.k
    buf = WindowBuffer(10, n)
    checked = 0
    for t in range(300):
        gap = (t % 9 < 1 + t % 4) & (np.arange(n) == 2)       # gaps of 1 to 4 ticks on sensor 2
        buf.push(z[t], miss[t] | gap, float(t))
        if not buf.ready:
            continue
        s1 = m.states(buf.values[-1])
        for i in np.flatnonzero(buf.missing[-2]):
            seen = np.flatnonzero(~buf.missing[:-1, i])
            if seen.size == 0:
                continue
            M = m.transition(i)
            d = np.eye(k)[m.states(buf.values[seen[-1]])[i]]
            for _ in range(len(buf.values) - 2 - seen[-1]):
                d = d @ M
            assert m._propagated(buf, i, s1[i]) == float(d @ M[:, s1[i]])
            checked += 1
    assert checked >= 100


def test_the_seasonal_profile_learns_the_seen_sensors_values_as_their_sum():
    rng = np.random.default_rng(13)
    n, period, tick = 7, 600.0, 30.0
    profile = SeasonalProfile(n, period, tick, 4)
    acc_sum, acc_n, cycle = np.zeros((profile.bins, n)), np.zeros((profile.bins, n)), np.full(profile.bins, -1)
    for t in range(200):                        # ten cycles of 20 ticks, about a third of the values missing
        ts, x, valid = t * tick, rng.normal(0, 1, n), rng.random(n) > 0.3
        b, c = profile.locate(ts)
        if c > cycle[b]:
            acc_sum[b], acc_n[b], cycle[b] = 0.0, 0.0, c
        acc_sum[b] += np.where(valid, x, 0.0)
        acc_n[b] += valid
        profile.learn(ts, x, valid)
        assert np.array_equal(profile.acc_sum, acc_sum) and np.array_equal(profile.acc_n, acc_n)
    assert profile.acc_cycle.max() == 9


def test_fusions_neighbour_mean_from_the_callers_seen_mask_is_the_same_bits():
    rng = np.random.default_rng(14)
    n = 9
    adjacency = (rng.random((n, n)) < 0.4) * rng.random((n, n))
    np.fill_diagonal(adjacency, 0.0)
    f = FusionModel(adjacency, 0.999)
    for _ in range(50):                         # (the mean itself: test_scorers.py)
        x, missing = rng.normal(0, 1, n), rng.random(n) < 0.3
        assert np.array_equal(f.neighbour_mean(x, missing, ~missing), f.neighbour_mean(x, missing))


def test_fusions_neighbour_mean_without_the_mask_when_each_sensor_has_a_seen_neighbour():
    """A tick where every sensor has a seen neighbour (most gap ticks) divides without the mask
    (perf30); one where some sensor has none keeps its 0: both the masked quotient's bits, on a ring
    (every sensor two neighbours) with one sensor missing, then both of a sensor's neighbours."""
    rng = np.random.default_rng(30)
    n = 8
    adjacency = np.zeros((n, n))
    for i in range(n):
        adjacency[i, (i - 1) % n] = adjacency[i, (i + 1) % n] = rng.random() + 0.1
    f = FusionModel(adjacency, 0.999)
    for gone in ([3], [2, 4]):                  # sensor 3 keeps a seen neighbour; then it has none
        missing = np.zeros(n, bool)
        missing[gone] = True
        for _ in range(20):
            x = np.where(missing, 0.0, rng.normal(0, 1, n))
            w = f.nbr_w * (~missing).astype(np.float64)[f.nbr]
            total = _in_list_order(w)
            want = np.divide(_in_list_order(w * x[f.nbr]), total, out=np.zeros(n), where=total > 0)
            assert np.array_equal(f.neighbour_mean(x, missing, out=np.full(n, 7.0)), want)
            assert (want[3] == 0.0) == (len(gone) == 2)


def _in_list_order(terms: np.ndarray) -> np.ndarray:
    """Σ over the last axis, the first term, + the second, + ... (a loop: the order neighbour_mean adds in)."""
    total = terms[..., 0].copy()
    for j in range(1, terms.shape[-1]):
        total = total + terms[..., j]
    return total


def test_fusions_neighbour_mean_is_the_gather_of_each_neighbour_sum_bit_for_bit():
    """The seen neighbours' values and weights gathered as one (2, ..., degree, n) stack (perf26,
    neighbour-major since perf30) are the sums of the gather of each: Σ (w · seen) · x and Σ w · seen
    over the neighbour lists, added in the lists' order, for one row and a block, with values at the
    missing sensors (0, as the window holds them, and any value: their products are zeros of the same
    sign either way), N = 1, and 13 neighbours a sensor (where the last-axis reduce before perf30 added
    in another order)."""
    rng = np.random.default_rng(26)
    for n, density in ((1, 0.5), (9, 0.5), (14, 1.0)):     # (13 neighbours: past numpy's 8-term unrolled sum)
        adjacency = (rng.random((n, n)) < density) * rng.random((n, n))
        np.fill_diagonal(adjacency, 0.0)
        f = FusionModel(adjacency, 0.999)
        for _ in range(40):
            x, missing = rng.normal(0, 1, (5, n)), rng.random((5, n)) < 0.3
            x[:2][missing[:2]] = 0.0
            w = f.nbr_w * (~missing).astype(np.float64)[..., f.nbr]
            total = _in_list_order(w)
            s = _in_list_order(w * x[..., f.nbr])
            want = np.divide(s, total, out=np.zeros(s.shape), where=total > 0)
            assert np.array_equal(f.neighbour_mean(x, missing), want)
            for row in range(5):
                got = f.neighbour_mean(x[row], missing[row], out=np.full(n, 7.0))
                assert np.array_equal(got, want[row])
