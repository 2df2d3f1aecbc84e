"""agent/fastnp.py: numpy's functions without the dispatch give numpy's results, bit for bit."""
import numpy as np

from agent import fastnp as fnp


def test_bare_functions_give_numpys_results():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=18), rng.normal(size=18)
    a[3], b[5] = np.nan, np.inf
    m = a > 0
    assert np.array_equal(fnp.where(m, a, 0.0), np.where(m, a, 0.0), equal_nan=True)
    assert np.array_equal(fnp.where(m, a, np.nan), np.where(m, a, np.nan), equal_nan=True)
    assert np.array_equal(fnp.concatenate((a, b)), np.concatenate((a, b)), equal_nan=True)
    assert fnp.count_nonzero(m) == np.count_nonzero(m) and fnp.count_nonzero(a) == np.count_nonzero(a)
    out, ref = np.zeros(18), np.zeros(18)
    fnp.copyto(out, a, where=m)
    np.copyto(ref, a, where=m)
    assert out.tobytes() == ref.tobytes()
    w, x = rng.normal(size=(18, 5)), rng.normal(size=(18, 5))
    assert fnp.einsum("nk,nk->n", w, x).tobytes() == np.einsum("nk,nk->n", w, x).tobytes()
    into = np.empty(18)
    fnp.einsum("nk,nk->n", w, x, out=into)
    assert into.tobytes() == np.einsum("nk,nk->n", w, x).tobytes()


def test_bare_functions_skip_the_dispatch():
    """Each is the function numpy's public one calls after its dispatch (not the public one),
    on this numpy; the agent's per-tick code relies on that for its speed only."""
    assert fnp.where is not np.where and fnp.copyto is not np.copyto
    assert fnp.concatenate is not np.concatenate
    assert fnp.count_nonzero is not np.count_nonzero and fnp.einsum is not np.einsum
