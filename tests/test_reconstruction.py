"""The reconstruction head (`stad-convert train --recon-weight`): a fourth graph output, exported,
listed in the manifest, read by both model runtimes, fitted at warm-up and scored
(`scoring.profile.reconstruction_weight`); bundles without it are scored as before.

A tiny simulated corridor bundle, trained and exported for real (PyTorch, ONNX, TFLite int8).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert.interpreter")
pytest.importorskip("litert_torch")

from agent.bundle import load as load_bundle, read_manifest  # noqa: E402
from agent.config import ConfigError, from_dict  # noqa: E402
from agent.scorers.model_scorer import RECON_NAME, reconstruction_errors  # noqa: E402
from agent.scorers.onnx import OnnxScorer  # noqa: E402
from agent.scorers.profile import ProfileConfig  # noqa: E402
from agent.scorers.tflite import TfliteScorer  # noqa: E402
from agent.window import WindowBuffer  # noqa: E402
from convert import bundle_writer as bw  # noqa: E402
from convert.bundle_writer import unpack_rows  # noqa: E402
from convert.cli import main  # noqa: E402
from convert.fold import fold  # noqa: E402
from convert.model import build_model  # noqa: E402
from conftest import TINY_CORRIDOR_CONFIG, TINY_CORRIDOR_STEPS  # noqa: E402

STEPS = TINY_CORRIDOR_STEPS
TINY_TRAIN = ["--days", "2", "--epochs", "6", "--patience", "6", "--windows-per-epoch", "2048", "--d-model", "16",
              "--heads", "2", "--ff-hidden", "16", "--quiet"]


@pytest.fixture(scope="module")
def recon_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("recon")
    cfg = root / "tiny.yaml"
    cfg.write_text(TINY_CORRIDOR_CONFIG)
    out = root / "recon-bundle"
    assert main(["train", "-c", str(cfg), "-o", str(out), "--no-export", "--recon-weight", "0.2", *TINY_TRAIN]) == 0
    assert main(["export", str(out), "--only", "onnx_fp32,tflite_int8"]) == 0
    return out


def _holdout(bundle_dir):
    z, missing = unpack_rows(np.load(str(bundle_dir / bw.HOLDOUT_FILE)))
    return z.astype(np.float32), missing.astype(bool)


def test_the_manifest_lists_the_reconstruction_and_every_runtime_reproduces_it(recon_bundle):
    m = read_manifest(recon_bundle)
    n = len(m.sensors)
    assert m.model["reconstruct"] is True
    recon = [t for t in m.outputs if t.name == RECON_NAME]
    assert len(recon) == 1 and recon[0].shape == ["batch", STEPS - 1, n]
    model = bw.load_model(recon_bundle, m)
    values, missing = bw.load_windows(recon_bundle / bw.HOLDOUT_FILE, STEPS)
    v, mm = torch.from_numpy(values[:40]), torch.from_numpy(missing[:40])
    with torch.no_grad():
        out = model(v, mm)
    assert len(out) == 4 and tuple(out[3].shape) == (40, STEPS - 1, n)
    # trained: it rebuilds the context rows far better than the same head untrained
    torch.manual_seed(0)
    with torch.no_grad():
        untrained = build_model(model.spec).eval()(v, mm)[3].numpy()
    err = reconstruction_errors(out[3].numpy(), values[:40], missing[:40] > 0.5)
    assert np.nanmean(err) < 0.5 * np.nanmean(reconstruction_errors(untrained, values[:40], missing[:40] > 0.5))
    folded = fold(model, values[:40], missing[:40])        # fold checks all four outputs itself
    with torch.no_grad():
        assert torch.allclose(folded(v, mm)[3], out[3], atol=1e-4)
    bundle = load_bundle(recon_bundle)
    for scorer in (TfliteScorer(bundle), OnnxScorer(bundle, kind="onnx_fp32")):
        assert scorer.reconstructs
        got = np.stack([scorer.run(values[i:i + 1], missing[i:i + 1])[3] for i in range(40)])
        r = np.corrcoef(got.ravel(), out[3].numpy().ravel())[0, 1]
        assert r >= 0.999, (scorer.kind, r)


def test_the_scorer_fits_the_reconstruction_error_at_warm_up_and_keeps_it_across_a_restore(recon_bundle):
    bundle = load_bundle(recon_bundle)
    z, missing = _holdout(recon_bundle)
    ts = np.arange(len(z), dtype=np.float64) * 60.0
    warm = len(z) // 2
    on, off = TfliteScorer(bundle), TfliteScorer(bundle)
    on.set_profile(ProfileConfig(enabled=True, min_ticks=50, reconstruction_weight=1.0))
    off.set_profile(ProfileConfig(enabled=True, min_ticks=50))
    warm_on = on.fit_profile(z[:warm], missing[:warm], ts[:warm])
    warm_off = off.fit_profile(z[:warm], missing[:warm], ts[:warm])
    assert on.recon_mean is not None and (on.recon_std > 0).all()
    assert off.recon_mean is None and off.describe()["reconstruction"] == "unused"
    assert (warm_on >= warm_off).all() and (warm_on > warm_off).any()   # the max of both statistics
    # a window whose context zig-zags on one sensor: unlike anything trained, its error is far above warm-up's
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    odd = z[warm:warm + STEPS].copy()
    odd[:-1, 0] = np.where(np.arange(STEPS - 1) % 2, 3.0, -3.0)
    for i in range(STEPS):
        buf.push(odd[i], missing[warm + i], ts[warm + i])
    scored = on.score(buf)
    values, window_missing = on.inputs(buf)
    recon = on.run(values, window_missing)[3]
    expected = on.recon_scores(reconstruction_errors(recon, values[0], window_missing[0] > 0.5))
    assert expected[0] > 3.0
    assert scored.sensor_scores[0] >= expected[0] - 1e-9
    # a checkpoint carries the fitted reconstruction statistics; one written before them restores to none
    state = on.state_dict()
    again = TfliteScorer(bundle)
    again.set_profile(on.profile_cfg)
    again.restore(state)
    np.testing.assert_array_equal(again.recon_mean, on.recon_mean)
    np.testing.assert_array_equal(again.recon_std, on.recon_std)
    old = dict(state)
    del old["reconstruction"]
    again.restore(old)
    assert again.recon_mean is None
    bad = dict(state, reconstruction={"mean": on.recon_mean, "std": np.zeros_like(on.recon_std)})
    with pytest.raises(ValueError, match="reconstruction.std"):
        again.restore(bad)


def test_a_bundle_without_the_output_ignores_the_weight(tmp_path):
    """An old bundle (the demo's, or any trained without --recon-weight) has three outputs, and
    reconstruction_weight > 0 changes none of its scores."""
    from pathlib import Path
    demo = Path(__file__).resolve().parent.parent / "agent" / "models" / "demo-corridor"
    if not (demo / "manifest.json").exists():
        pytest.skip("the demo bundle is not built")
    bundle = load_bundle(str(demo))
    plain, weighted = TfliteScorer(bundle), TfliteScorer(bundle)
    assert not plain.reconstructs and plain.describe()["reconstruction"] == "not in the bundle"
    plain.set_profile(ProfileConfig(enabled=True, min_ticks=20))
    weighted.set_profile(ProfileConfig(enabled=True, min_ticks=20, reconstruction_weight=2.0))
    rng = np.random.default_rng(0)
    n = len(bundle.sensors)
    z = rng.normal(0, 0.3, size=(120, n)).astype(np.float32)
    missing = np.zeros(z.shape, bool)
    ts = np.arange(len(z), dtype=np.float64) * bundle.manifest.tick_s
    a = plain.fit_profile(z[:100], missing[:100], ts[:100])
    b = weighted.fit_profile(z[:100], missing[:100], ts[:100])
    np.testing.assert_array_equal(a, b)
    assert weighted.recon_mean is None


def test_config_and_training_refuse_bad_weights(tmp_path):
    with pytest.raises(ConfigError, match="scoring.profile.reconstruction_weight"):
        from_dict({"sensors": ["a", "b"], "sources": [{"type": "stdin"}], "window": {"steps": 8},
                   "warmup": {"ticks": 50}, "sinks": [], "scoring": {"profile": {"reconstruction_weight": -1}}})
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY_CORRIDOR_CONFIG)
    assert main(["train", "-c", str(cfg), "-o", str(tmp_path / "b"), "--no-export", "--recon-weight", "-1",
                 *TINY_TRAIN]) == 2
