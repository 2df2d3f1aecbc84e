"""The model tiers on real bundles: onnxruntime and ai-edge-litert score the simulator, agree with
each other and with PyTorch within the manifest's parity bounds, and refuse bundles that do not fit.

Bundles are made here by the converter's own functions (a tiny model, two short epochs: it must beat repeating the last value, or training refuses it); the
committed demo bundle is used as well when it is there. The bundle helpers live in conftest.py
(built once per test session).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from agent import bundle as bundles  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.scorers import build_tiers  # noqa: E402
from agent.scorers.forecast_error import sensor_scores  # noqa: E402
from agent.window import Normaliser, WindowBuffer  # noqa: E402
from conftest import (DEMO_BUNDLE, NO_DEMO, REPO, TINY_KINDS, bundle_root, demo_cfg,  # noqa: E402
                      demo_dict, sim_rows, tiny_bundle, variant)



def parity_cases() -> list:
    cases = [pytest.param("tiny", kind, id=f"tiny-{kind}") for kind in TINY_KINDS]
    for kind in bundles.ARTIFACT_KINDS:
        cases.append(pytest.param("demo", kind, id=f"demo-{kind}", marks=[NO_DEMO]))
    return cases


def resolve(ref: str) -> Path:
    return tiny_bundle() if ref == "tiny" else DEMO_BUNDLE


# ---- scoring the simulator -------------------------------------------------------------------------

def windows_from_sim(bundle: bundles.Bundle, rows, count: int):
    """`count` consecutive WindowBuffer states (values, missing copies) normalised by the bundle."""
    norm = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    out = []
    for r in rows:
        buf.push(norm.apply(r.values), r.missing, r.ts)
        if buf.ready:
            out.append((buf.values.copy(), buf.missing.copy()))
        if len(out) == count:
            break
    return out


@functools.lru_cache(maxsize=None)
def demo_run(ref: str):
    """The demo's own simulator run (seed 7) from just before its first incident: 400 windows on
    both sides of the threshold, with PyTorch's forecasts and tick scores for them."""
    from convert import bundle_writer as bw

    bundle = bundles.load(resolve(ref))
    model = bw.load_model(bundle.path, bundle.manifest)
    rows = sim_rows(demo_cfg(bundle_root()), days=1.35)[-440:]
    windows = windows_from_sim(bundle, rows, 400)
    values = np.stack([w[0] for w in windows]).astype(np.float32)
    missing = np.stack([w[1] for w in windows]).astype(np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(values), torch.from_numpy(missing))[0].numpy()
    ref_scores = sensor_scores(values[:, -1], missing[:, -1] > 0, reference, bundle.residual_std()).max(axis=1)
    return bundle, windows, values, missing, reference, ref_scores


@functools.lru_cache(maxsize=None)
def runtime_scores(ref: str, kind: str):
    """Forecasts and tick scores of one artifact, scored tick by tick through a WindowBuffer."""
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.tflite import TfliteScorer

    bundle, windows, values, missing, _, _ = demo_run(ref)
    scorer = (OnnxScorer if kind.startswith("onnx") else TfliteScorer)(bundle, kind)
    buf = WindowBuffer(bundle.steps, len(bundle.sensors))
    forecasts, scores = [], []
    for v, m in windows:
        for row_v, row_m in zip(v, m):          # replay the window row by row, as the agent fills it
            buf.push(row_v, row_m, 0.0)
        forecasts.append(scorer.run(*scorer.inputs(buf))[0].copy())
        res = scorer.score(buf)
        assert res.tier == scorer.TYPE and res.time_weights.shape == (bundle.steps,)
        assert res.time_weights[-1] == 0 and np.isclose(res.time_weights.sum(), 1, atol=1e-5)
        assert res.sensor_weights.shape == (len(bundle.sensors),)
        scores.append(res.score)
    forecasts, scores = np.stack(forecasts), np.array(scores)
    np.testing.assert_allclose(scores, sensor_scores(values[:, -1], missing[:, -1] > 0, forecasts,
                                                     bundle.residual_std()).max(axis=1), rtol=1e-6)
    return forecasts, scores


@pytest.mark.parametrize("ref,kind", parity_cases())
def test_each_artifact_scores_the_simulator_like_pytorch(ref, kind):
    bundle, _, _, _, reference, ref_scores = demo_run(ref)
    threshold = float(bundle.threshold["value"])
    assert (ref_scores > threshold).sum() >= 10 and (ref_scores <= threshold).sum() >= 100
    forecasts, scores = runtime_scores(ref, kind)
    agreement = float(np.mean((scores > threshold) == (ref_scores > threshold)))
    r = float(np.corrcoef(scores, ref_scores)[0, 1])
    rms = float(np.sqrt(np.mean((forecasts - reference) ** 2)))
    if kind.endswith("fp32"):
        assert rms < 1e-5 and agreement == 1.0, (rms, agreement)
    else:
        # The manifest's bound for int8 artifacts: the alert decision agrees with PyTorch's.
        assert agreement >= bundle.manifest.parity["min_int8_agreement"], (agreement, r, rms)
        assert r > 0.99, (agreement, r, rms)


@pytest.mark.parametrize("ref", [pytest.param("tiny"), pytest.param("demo", marks=NO_DEMO)])
def test_onnxruntime_and_litert_agree_with_each_other(ref):
    _, onnx_scores = runtime_scores(ref, "onnx_fp32")
    _, tflite_scores = runtime_scores(ref, "tflite_fp32")
    np.testing.assert_allclose(onnx_scores, tflite_scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ref,kind", [pytest.param("tiny", "tflite_fp32"),
                                      pytest.param("demo", "tflite_int8", marks=[NO_DEMO])])
def test_litert_in_place_tensors_give_what_the_public_api_gives(ref, kind):
    """The tflite scorer writes its inputs into the interpreter's tensors and reads the outputs in
    place; a separate interpreter driven through set_tensor/invoke/get_tensor gives the same
    outputs, on the scorer's own buffers and on a caller's arrays, and what `run` returns is the
    scorer's to keep (the next invoke does not change it)."""
    from ai_edge_litert.interpreter import Interpreter
    from agent.scorers.tflite import TfliteScorer

    bundle, windows, values, missing, _, _ = demo_run(ref)
    scorer = TfliteScorer(bundle, kind)
    assert scorer._views is not None        # float tensors: the in-place path
    public = Interpreter(model_path=str(bundle.artifact_path(kind)), num_threads=1)
    public.allocate_tensors()
    runner = public.get_signature_runner()
    first = None
    for i in range(0, 40, 7):
        v, m = values[i:i + 1], missing[i:i + 1]
        want = runner(values=v, missing=m)
        np.copyto(scorer._values, v)
        np.copyto(scorer._missing, m)
        own = scorer.run(scorer._values, scorer._missing)
        given = scorer.run(v.copy(), m.copy())
        for name, a, b in zip(("forecast", "temporal_attention", "spatial_attention"), own, given):
            np.testing.assert_array_equal(a, want[name][0])
            np.testing.assert_array_equal(b, want[name][0])
        if first is None:
            first = [a.copy() for a in own], own
    kept, returned = first
    for a, b in zip(kept, returned):
        np.testing.assert_array_equal(a, b)


def test_tiers_prefer_int8_and_describe_what_they_run(tmp_path):
    from agent.scorers.onnx import OnnxScorer
    from agent.scorers.standby import StandbyTier
    from agent.scorers.tflite import TfliteScorer

    cfg = demo_cfg(tmp_path, bundle=str(tiny_bundle()))
    tiers = build_tiers(cfg.scoring, bundles.Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir)
    assert [t.TYPE for t in tiers] == ["tflite", "onnx"]
    tfl, onx = (t.describe() for t in tiers)
    manifest = bundles.load(tiny_bundle()).manifest
    # The tiny bundle has no TFLite int8: fp32 is used; ONNX has int8 and prefers it.
    assert tfl["artifact"] == "model_fp32.tflite" and tfl["quantization"] == "fp32"
    assert onx["artifact"] == "model_int8.onnx" and onx["quantization"] == "int8"
    assert onx["sha256"] == manifest.artifacts["onnx_int8"].sha256
    assert tfl["runtime"].startswith("ai-edge-litert ")
    assert tfl["model_id"] == onx["model_id"] == "tiny"
    # The tier below the top one is on standby (agent/scorers/standby.py): it says what it would run, checked
    # at start, and loads as that scorer when the chain steps down to it.
    assert isinstance(tiers[0], TfliteScorer) and isinstance(tiers[1], StandbyTier)
    assert onx["standby"] == "not loaded" and "runtime" not in onx
    loaded = tiers[1].load()
    assert isinstance(loaded, OnnxScorer) and loaded.describe()["runtime"].startswith("onnxruntime ")
    assert {k: loaded.describe()[k] for k in ("artifact", "quantization", "sha256")} == \
        {k: onx[k] for k in ("artifact", "quantization", "sha256")}
    if (DEMO_BUNDLE / bundles.MANIFEST_NAME).exists():
        assert TfliteScorer(bundles.load(DEMO_BUNDLE)).describe()["artifact"] == "model_int8.tflite"


def test_a_bundle_with_other_normalisation_is_fed_its_own(tmp_path):
    """After a hot swap the window is normalised by the first bundle; the new one re-bases it."""
    from agent.scorers.onnx import OnnxScorer

    bundle = bundles.load(tiny_bundle())
    own = Normaliser.from_manifest(bundle.normalisation, bundle.sensors)
    other = Normaliser(mean=own.mean + 3.0 * own.std, std=own.std * 2.0)
    rows = sim_rows(demo_cfg(tmp_path), days=0.1)
    a, b = WindowBuffer(bundle.steps, len(bundle.sensors)), WindowBuffer(bundle.steps, len(bundle.sensors))
    for r in rows[:bundle.steps]:
        a.push(own.apply(r.values), r.missing, r.ts)
        b.push(other.apply(r.values), r.missing, r.ts)
    plain, rebased = OnnxScorer(bundle, "onnx_fp32"), OnnxScorer(bundle, "onnx_fp32")
    rebased.align_to(other)
    np.testing.assert_allclose(rebased.score(b).sensor_scores, plain.score(a).sensor_scores, rtol=1e-4, atol=1e-4)


# ---- refusals ------------------------------------------------------------------------------------------

def corrupted(tmp_path, name: str):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_bundle(), bad)
    blob = bytearray((bad / name).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (bad / name).write_bytes(bytes(blob))
    return demo_cfg(tmp_path, bundle=str(bad))


def test_a_corrupted_file_is_refused_naming_it(tmp_path, caplog):
    """Each runtime hashes the artifact it loads: the onnx tier refuses, tflite (its file intact) loads."""
    cfg = corrupted(tmp_path, "model_int8.onnx")
    with caplog.at_level("WARNING", logger="stad.scorer"):
        tiers = build_tiers(cfg.scoring, bundles.Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir)
    assert [t.TYPE for t in tiers] == ["tflite"]
    assert "scorer onnx refused the bundle" in caplog.text and "model_int8.onnx: sha256 mismatch" in caplog.text


def test_the_gateway_hashes_only_what_it_loads(tmp_path, caplog):
    """A training-only file (the PyTorch weights) is never read on the gateway; verify checks it."""
    from convert.verify import VerifyError, verify_bundle

    cfg = corrupted(tmp_path, "model.pt")
    with caplog.at_level("WARNING", logger="stad.scorer"):
        tiers = build_tiers(cfg.scoring, bundles.Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir)
    assert [t.TYPE for t in tiers] == ["tflite", "onnx"] and "refused" not in caplog.text
    with pytest.raises((VerifyError, bundles.BundleError), match="model.pt"):
        verify_bundle(tmp_path / "bad", log=lambda *a: None)


def test_a_bundle_for_another_config_is_refused_naming_the_difference(tmp_path):
    from agent.scorers import load_tiers

    d = demo_dict(tmp_path, bundle=str(tiny_bundle()))
    d["sensors"] = d["sensors"][1:] + d["sensors"][:1]          # same sensors, another order
    d["window"]["steps"] = 16
    cfg = from_dict(d, base_dir=str(REPO))
    tiers, refusals = load_tiers(cfg.scoring, cfg.scoring.bundle, bundles.Expectation.from_config(cfg),
                                 cfg.alerts.top_k, cfg.base_dir)
    # the bundle's own refusal (before any runtime read it) said once for both tiers, not once per tier
    assert tiers == [] and [r.split(" refused")[0] for r in refusals] == ["scorers tflite, onnx"]
    assert "different order" in refusals[0] and "window steps: bundle 32, config window.steps 16" in refusals[0]


def test_a_model_of_the_wrong_shape_is_refused(tmp_path):
    """A model file exported for 17 sensors in an 18-sensor bundle, hashes made consistent."""
    from convert.export import export_onnx_fp32
    from convert.model import ModelSpec, build_model
    from agent.manifest import write as write_manifest
    from agent.scorers.onnx import OnnxScorer

    bad = tmp_path / "shape"
    shutil.copytree(variant("onnx-fp32-only", keep=["onnx_fp32"]), bad)
    export_onnx_fp32(build_model(ModelSpec(sensors=17, steps=32, d_model=16, heads=2, ff_hidden=16)),
                     bad / "model_fp32.onnx")
    write_manifest(bad, bundles.read_manifest(bad))
    with pytest.raises(bundles.BundleError, match=r"values is \?×32×17, expected 1×32×18"):
        OnnxScorer(bundles.load(bad))


# ---- the agent itself ------------------------------------------------------------------------------------

def agent_config_file(tmp_path: Path, **scoring) -> Path:
    """configs/demo.yaml without the MQTT sink; the committed demo bundle, else the tiny one."""
    if not (DEMO_BUNDLE / bundles.MANIFEST_NAME).exists():
        scoring.setdefault("bundle", str(tiny_bundle()))
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(demo_dict(tmp_path, **scoring)))
    return path


def run_agent(cfg_path: Path, ticks: int, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg_path), "--max-ticks", str(ticks)],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)


def test_the_demo_agent_scores_with_the_attention_model(tmp_path):
    res = run_agent(agent_config_file(tmp_path), ticks=2890)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "tier tflite;" in res.stderr, res.stderr[-3000:]
    assert "not available" not in res.stderr and "refused" not in res.stderr


def test_a_runtime_that_fails_to_import_puts_the_agent_on_the_next_tier(tmp_path):
    broken = tmp_path / "broken" / "ai_edge_litert"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libLiteRt.so: cannot open shared object file')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(broken.parent), str(REPO)]))
    res = run_agent(agent_config_file(tmp_path), ticks=2890, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "scorer tflite not available" in res.stderr and "libLiteRt.so" in res.stderr
    assert "tier onnx;" in res.stderr, res.stderr[-3000:]
