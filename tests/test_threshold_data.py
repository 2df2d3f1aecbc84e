"""A bundle's threshold fitted on other data than its training data (train_bundle's threshold_from,
build-demo's --threshold-days): the model is trained on variable days, the threshold is POT on its
scores over the copy days' validation part, normalised and scaled as the model scores; the bundle
exports and verifies."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from agent.config import from_dict  # noqa: E402
from agent.sources.simulate import VARIABLE_DAYS  # noqa: E402
from agent.threshold import calibrate  # noqa: E402
from convert.cli import _parser  # noqa: E402
from convert.data import TimeSplit, read_series, training_sources, windows_between  # noqa: E402
from convert.pipeline import DataOptions, export_bundle, train_bundle  # noqa: E402
from convert.train import TrainOptions, calibration_scores, predict  # noqa: E402
from convert.verify import verify_bundle  # noqa: E402
from conftest import TINY_CORRIDOR_CONFIG, TINY_CORRIDOR_STEPS as STEPS  # noqa: E402


def _scores(result, series, steps):
    """The model's tick scores over `series`'s validation part, as the converter calibrates them."""
    split = series.split or TimeSplit.of(len(series))
    z = result.normaliser.apply(series.raw)
    w = windows_between(z, series.missing, series.anomalous, steps, split.train_end, split.val_end, series.segment)
    return calibration_scores(w, predict(result.model, w.values, w.missing), steps, scale=result.residual_std)[1]


def test_the_threshold_is_fitted_on_the_named_data_and_the_bundle_verifies(tmp_path):
    import yaml
    copy_cfg = from_dict(yaml.safe_load(TINY_CORRIDOR_CONFIG), base_dir=str(tmp_path))
    variable_cfg = dataclasses.replace(copy_cfg, sources=[dataclasses.replace(copy_cfg.sources[0],
                                                                              variability=VARIABLE_DAYS)])
    data = DataOptions(days=3.0)
    options = TrainOptions(epochs=4, patience=4, windows_per_epoch=1024, d_model=16, heads=2, ff_hidden=16,
                           threads=1, progress=False)
    out = tmp_path / "bundle"
    result, manifest = train_bundle(variable_cfg, out, options, data, model_id="t", threshold_from=copy_cfg)

    def series(cfg):
        return read_series(cfg, training_sources(cfg, days=data.days, seed=data.seed, anomalies=data.anomalies))
    on_copy = calibrate(_scores(result, series(copy_cfg), STEPS), copy_cfg.threshold)["value"]
    on_own = calibrate(_scores(result, series(variable_cfg), STEPS), copy_cfg.threshold)["value"]
    assert manifest.threshold["value"] == pytest.approx(on_copy, rel=1e-9)
    assert abs(on_own - on_copy) > 0.05 * on_copy      # the two data give thresholds apart: the test tells them
    assert result.summary["threshold_calibrated_on"].startswith("other data's validation")
    assert [s["variability"] for s in manifest.data["threshold_sources"]] == [None]
    assert manifest.data["sources"][0]["variability"] is not None
    # the scale stays the model's own (its validation part), not refitted on the threshold data
    assert np.allclose([manifest.residual_std[s] for s in manifest.sensors], result.residual_std)

    export_bundle(out, ["onnx_int8"], log=lambda *a: None)
    ok, parity = verify_bundle(out, log=lambda *a: None)
    assert ok and parity["threshold"] == manifest.threshold["value"]


def test_build_demo_takes_the_threshold_days():
    args = _parser().parse_args(["build-demo", "--variable-days", "--threshold-days", "copy"])
    assert (args.variable_days, args.threshold_days) == (True, "copy")
    with pytest.raises(SystemExit):
        _parser().parse_args(["build-demo", "--threshold-days", "wet"])
