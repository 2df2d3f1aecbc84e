"""The training options that aim at reproducible bundles: a cosine learning-rate schedule, a Huber
objective and input noise (convert/train.py). Unit checks of each piece on hand-made tensors, and one
real tiny training through the CLI: the options reach the manifest, change the weights, and a bad
value is refused with its reason."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agent.bundle import read_manifest  # noqa: E402
from convert import bundle_writer as bw  # noqa: E402
from convert.cli import main  # noqa: E402
from convert.train import TrainOptions, jitter_context, lr_at, masked_loss, masked_mse  # noqa: E402
from conftest import TINY_CORRIDOR_CONFIG  # noqa: E402

CONFIG = TINY_CORRIDOR_CONFIG
TINY_TRAIN = ["--days", "2", "--epochs", "6", "--patience", "6", "--windows-per-epoch", "2048", "--d-model", "16",
              "--heads", "2", "--ff-hidden", "16", "--quiet", "--no-export", "--threads", "1"]


def test_cosine_schedule_falls_from_lr_to_zero_and_constant_stays():
    cosine = TrainOptions(lr=0.004, lr_schedule="cosine")
    assert lr_at(cosine, 0, 100) == pytest.approx(0.004)
    assert lr_at(cosine, 50, 100) == pytest.approx(0.002)
    assert lr_at(cosine, 100, 100) == pytest.approx(0.0, abs=1e-12)
    rates = [lr_at(cosine, s, 100) for s in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert lr_at(TrainOptions(lr=0.004), 73, 100) == 0.004


def test_huber_is_half_the_squared_error_near_and_linear_far():
    target = torch.zeros(1, 3)
    weight = torch.tensor([[1.0, 1.0, 0.0]])                    # the third reading is not a target
    huber = TrainOptions(loss="huber", huber_delta=1.0)
    near = torch.tensor([[0.5, -0.5, 9.0]])
    assert masked_loss(near, target, weight, huber).item() == pytest.approx(0.125)
    assert masked_loss(near, target, weight, TrainOptions()).item() == pytest.approx(
        masked_mse(near, target, weight).item())
    far = torch.tensor([[10.0, 0.0, 0.0]])                     # one outlier: δ(|x| − δ/2), not x²/2
    assert masked_loss(far, target, weight, huber).item() == pytest.approx((10.0 - 0.5) / 2)
    assert masked_mse(far, target, weight).item() == pytest.approx(50.0)


def test_input_noise_touches_only_observed_context_readings():
    rng = np.random.default_rng(0)
    values = np.ones((4, 5, 3), np.float32)
    missing = np.zeros_like(values)
    missing[:, 1, 0] = 1.0
    values[:, 1, 0] = 0.0
    out = jitter_context(values, missing, 0.1, rng)
    assert np.array_equal(out[:, -1], values[:, -1])          # the target row
    assert np.array_equal(out[:, 1, 0], values[:, 1, 0])      # a missing reading stays 0
    observed = (missing[:, :-1] == 0)
    assert np.all(out[:, :-1][observed] != 1.0)
    assert 0.05 < np.std(out[:, :-1][observed] - 1.0) < 0.2
    assert jitter_context(values, missing, 0.0, rng) is values


def test_the_options_train_record_and_refuse(tmp_path, capsys):
    """A real tiny training with every option: recorded in the manifest, weights unlike the plain
    run's; a non-positive Huber delta or negative noise exits 2 with the reason."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    plain, tuned = tmp_path / "plain", tmp_path / "tuned"
    assert main(["train", "-c", str(cfg), "-o", str(plain), *TINY_TRAIN]) == 0
    assert main(["train", "-c", str(cfg), "-o", str(tuned), "--lr-schedule", "cosine", "--loss", "huber",
                 "--huber-delta", "2", "--input-noise", "0.02", *TINY_TRAIN,
                 "--epochs", "12", "--patience", "12"]) == 0     # half the mean lr: more epochs to beat naive
    m = read_manifest(tuned)
    options = m.training["options"]
    assert (options["lr_schedule"], options["loss"], options["huber_delta"], options["input_noise"]) == (
        "cosine", "huber", 2.0, 0.02)
    assert m.training["val_mse_model"] < m.training["val_mse_naive_repeat_last"]
    a = bw.load_model(tuned, m).state_dict()
    b = bw.load_model(plain, read_manifest(plain)).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert read_manifest(plain).training["options"]["lr_schedule"] == "constant"
    capsys.readouterr()
    for bad, reason in ((["--huber-delta", "0"], "huber_delta must be > 0"),
                        (["--input-noise", "-0.1"], "input_noise >= 0")):
        assert main(["train", "-c", str(cfg), "-o", str(tmp_path / "bad"), *bad, *TINY_TRAIN]) == 2
        assert reason in capsys.readouterr().err


def test_train_refuses_an_unknown_schedule_or_loss():
    from convert.train import TrainingError, train
    for change in ({"lr_schedule": "step"}, {"loss": "l1"}):
        options = dataclasses.replace(TrainOptions(progress=False), **change)
        with pytest.raises(TrainingError, match=next(iter(change))):
            train(None, 12, None, options)
