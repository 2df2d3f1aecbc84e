"""A bundle trained with input_centring (skab40): its centred sensors are read relative to their window's context
mean in the trainer, verify and the agent's scorer alike, so the score does not move when such a sensor's level does;
the manifest says the input form, and a form this agent does not apply is refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agent import manifest as manifests
from agent.scorers.input_centring import centre_windows, window_anchor
from agent.window import WindowBuffer
from conftest import DEMO_CONFIG, built_once

CENTRED = "S01_speed"


def _train_centred(out):
    from agent.config import load
    from convert.pipeline import DataOptions, export_bundle, train_bundle
    from convert.train import TrainOptions
    from convert.verify import verify_bundle

    cfg = load(DEMO_CONFIG)
    cfg.scoring.profile.drifting = [CENTRED]
    options = TrainOptions(epochs=2, windows_per_epoch=1024, d_model=16, heads=2, ff_hidden=16, threads=1,
                           progress=False, centre_drifting=True)
    train_bundle(cfg, out, options, DataOptions(days=1.0), model_id="tiny-centred")
    export_bundle(out, ["onnx_fp32", "onnx_int8"], log=lambda *a: None)
    ok, _ = verify_bundle(out, write=True, log=lambda *a: None)
    assert ok
    return out


@pytest.fixture(scope="module")
def centred_bundle():
    pytest.importorskip("torch")
    return built_once("stad-tiny-centred-bundle", _train_centred)


def test_the_anchor_is_the_mean_of_the_observed_context_rows_only():
    values = np.zeros((4, 2), np.float32)
    values[:, 0] = [1.0, 5.0, 3.0, 100.0]        # the newest row (100) is the target: not in its own anchor
    values[:, 1] = [7.0, 7.0, 7.0, 7.0]
    missing = np.zeros((4, 2), bool)
    missing[1, 0] = True                          # a missing context row does not count (its value is 0 anyway)
    values[1, 0] = 0.0
    mask = np.array([True, False])
    assert window_anchor(values, missing, mask).tolist() == [2.0, 0.0]
    centred, anchor = centre_windows(values, missing, mask)
    assert centred[:, 0].tolist() == [-1.0, 0.0, 1.0, 98.0]     # missing stays 0; the newest centred too
    assert centred[:, 1].tolist() == [7.0] * 4                   # a sensor not centred is as it was
    assert anchor.tolist() == [2.0, 0.0]
    assert centre_windows(values, missing, None)[0] is values


def _manifest_json(bundle) -> dict:
    return json.loads((bundle / manifests.MANIFEST_NAME).read_text(encoding="utf-8"))


def test_the_manifest_says_the_input_form_and_refuses_one_it_does_not_apply(centred_bundle):
    data = _manifest_json(centred_bundle)
    assert data["input_centring"] == {"sensors": [CENTRED], "anchor": "context_mean"}
    with pytest.raises(manifests.ManifestError, match=r"input_centring\.anchor: .*'newest'"):
        manifests.parse({**data, "input_centring": {"sensors": [CENTRED], "anchor": "newest"}})
    with pytest.raises(manifests.ManifestError, match=r"input_centring\.sensors: unknown sensor 'S99_speed'"):
        manifests.parse({**data, "input_centring": {"sensors": ["S99_speed"], "anchor": "context_mean"}})


def _holdout(bundle):
    from convert import bundle_writer as bw
    from convert.data import unpack_rows
    z, missing = unpack_rows(np.load(str(bundle / bw.HOLDOUT_FILE), allow_pickle=False))
    return np.where(missing, 0.0, z).astype(np.float32), missing.astype(bool)


def _live_scores(scorer, z, missing, steps):
    buf, out = WindowBuffer(steps, z.shape[1]), []
    for t in range(len(z)):
        buf.push(z[t], missing[t], float(t))
        if t >= steps - 1:
            out.append(scorer.score(buf).sensor_scores.copy())
    return np.array(out)


@pytest.mark.parametrize("kind", ["onnx_fp32", "onnx_int8"])
def test_a_centred_sensors_level_does_not_move_the_score_but_another_sensors_does(centred_bundle, kind):
    from agent.bundle import load
    from agent.scorers.onnx import OnnxScorer
    bundle = load(centred_bundle)
    scorer = OnnxScorer(bundle, kind=kind, threads=1)
    z, missing = _holdout(centred_bundle)
    z, missing = z[:120], missing[:120]
    c, other = bundle.sensors.index(CENTRED), bundle.sensors.index("S01_flow")
    shifted = z.copy()
    shifted[:, c] = np.where(missing[:, c], 0.0, z[:, c] + 1.5)
    steps = bundle.steps
    base = scorer.warmup_scores(z, missing)
    assert np.allclose(scorer.warmup_scores(shifted, missing), base, rtol=1e-4, atol=1e-4)
    live = _live_scores(scorer, z, missing, steps)
    assert np.allclose(_live_scores(scorer, shifted, missing, steps), live, rtol=1e-4, atol=1e-4)
    moved = z.copy()
    moved[:, other] = np.where(missing[:, other], 0.0, z[:, other] + 1.5)
    assert not np.allclose(scorer.warmup_scores(moved, missing), base, rtol=1e-2, atol=1e-2)
