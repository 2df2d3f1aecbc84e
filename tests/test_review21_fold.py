"""review21: `stad-convert train` on one SKAB file (valve1/1.csv) stopped after training with a
traceback from the fold check: `FoldError: the folded model does not reproduce the trained one
(max |difference| temporal_attention 8.94e-04 > 0.0001): convert/fold.py no longer follows
model.py's forward`. It did follow it: the export's calibration windows held readings 576 σ from
the training part's mean (the file's anomaly lies in its test part), so the attention logits were
in the thousands and float32 rounding of the two orders of operations moved the softmax by 1e-3.
The check must tell a forward that fold.py does not follow from float32 rounding on large inputs."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from convert.fold import FoldError, fold                      # noqa: E402
from convert.model import ModelSpec, SpatioTemporalForecaster  # noqa: E402


def _model() -> SpatioTemporalForecaster:
    torch.manual_seed(0)
    return SpatioTemporalForecaster(ModelSpec(sensors=8, steps=64, d_model=16, heads=2, ff_hidden=16)).eval()


def _windows(level: float) -> tuple[np.ndarray, np.ndarray]:
    """Windows in which one sensor holds a reading `level` σ from its training mean (as SKAB's
    valve1/1.csv's test part did, 576 σ): near-equal attention logits in the hundreds."""
    rng = np.random.default_rng(1)
    values = (0.01 * rng.standard_normal((32, 64, 8))).astype(np.float32)
    values[:, :, 3] += level
    return values, np.zeros_like(values)


def test_fold_accepts_the_same_function_on_windows_far_outside_the_training_range():
    model = _model()
    values, missing = _windows(600.0)
    folded = fold(model, values, missing)
    with torch.no_grad():
        want = model(torch.from_numpy(values), torch.from_numpy(missing))[0]
        got = folded(torch.from_numpy(values), torch.from_numpy(missing))[0]
    assert got.dtype == torch.float32                               # what is exported stays float32
    assert float((want - got).abs().max()) < 1e-3


def test_fold_still_refuses_a_forward_it_does_not_follow_on_such_windows():
    class Doubled(SpatioTemporalForecaster):
        def forward(self, values, missing):
            return super().forward(2.0 * values, missing)

    model = _model()
    doubled = Doubled(model.spec)
    doubled.load_state_dict(model.state_dict())
    values, missing = _windows(600.0)
    with pytest.raises(FoldError, match="does not reproduce the trained one"):
        fold(doubled.eval(), values, missing)
