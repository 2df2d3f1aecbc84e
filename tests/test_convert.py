"""The converter end to end on a tiny simulated corridor: train, export, load, verify, inspect."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")
if importlib.util.find_spec("litert_torch") is None:   # looked up, not imported: importing it at collection
    # cost every xdist worker ~9 s under load (half of collection's imports); the exports import it
    pytest.skip("could not import 'litert_torch': the convert extra is not installed", allow_module_level=True)

from agent.bundle import BundleError, Expectation, load as load_bundle, read_manifest, resolve_path  # noqa: E402
from agent.manifest import Normalisation, write as write_manifest  # noqa: E402
from agent.scorers.forecast_error import residual_std, sensor_scores  # noqa: E402
from convert import bundle_writer as bw  # noqa: E402
from convert.cli import main  # noqa: E402
from convert.export import Calibration, export_onnx_fp32, export_tflite_int8  # noqa: E402
from convert.fold import FOLD_FORM, FoldError, fold  # noqa: E402
from convert.model import ModelSpec, build_model  # noqa: E402
from convert.perturb import floor_from_normalisation, perturb_context  # noqa: E402
from convert.train import WeightAverage  # noqa: E402
from conftest import TINY_CORRIDOR_CONFIG, TINY_CORRIDOR_SENSORS, TINY_CORRIDOR_STEPS, built_once  # noqa: E402

DEMO_BUNDLE = Path(__file__).resolve().parent.parent / "agent" / "models" / "demo-corridor"

SENSORS, STEPS, CONFIG = TINY_CORRIDOR_SENSORS, TINY_CORRIDOR_STEPS, TINY_CORRIDOR_CONFIG
#: The module's training options (bundle_dir's, and the plain run the averaged and ensemble runs are
#: compared with). Enough epochs to beat repeating the last value: training refuses a model that does not.
TINY_TRAIN = ["--days", "2", "--epochs", "6", "--patience", "6", "--windows-per-epoch", "2048", "--d-model", "16",
              "--heads", "2", "--ff-hidden", "16", "--quiet"]


#: The module bundle's seed: the ensemble's second member is trained as `--seed 1` would be, and is compared with this
#: bundle's weights (one training fewer than a `--seed 1` run of its own; suite10).
MODULE_SEED = ["--seed", "1"]


def _train_bundle(folder: Path) -> None:
    folder.mkdir()
    cfg = folder / "tiny.yaml"
    cfg.write_text(CONFIG)
    assert main(["train", "-c", str(cfg), "-o", str(folder / "tiny-bundle"), *TINY_TRAIN, *MODULE_SEED,
                 "--min-agreement", "0.95"]) == 0


@pytest.fixture(scope="module")
def bundle_dir():
    """Trained and exported once per run, even when xdist's work stealing splits the module."""
    return built_once("test-convert-bundle", _train_bundle) / "tiny-bundle"


def _copy(bundle_dir, tmp_path):
    dst = tmp_path / bundle_dir.name
    shutil.copytree(bundle_dir, dst)
    return dst


def test_export_prints_its_own_lines_only(bundle_dir, tmp_path):
    """The third-party notices of torch, torchao, litert-torch and TensorFlow's converter (about
    thirty lines per train) are routed to --verbose; a fresh process shows the import-time ones too."""
    import subprocess
    import sys
    copy = _copy(bundle_dir, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "export", str(copy), "--only", "tflite_fp32"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["exporting tflite_fp32 → model_fp32.tflite"]
    assert "tflite_fp32  model_fp32.tflite" in proc.stdout


def test_manifest_describes_the_bundle(bundle_dir):
    bundle = load_bundle(bundle_dir, expect=Expectation(sensors=SENSORS, steps=STEPS, tick_s=60))
    m = bundle.manifest
    assert m.format_version == 1 and m.sensors == SENSORS and m.steps == STEPS
    assert set(m.artifacts) == {"onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"}
    assert [o.name for o in m.outputs] == ["forecast", "temporal_attention", "spatial_attention"]
    assert m.outputs[1].shape == ["batch", 6, STEPS - 1]
    assert m.threshold["value"] > 0
    assert all(v > 0 for v in m.residual_std.values())
    assert m.training["val_mse_naive_repeat_last"] > 0
    assert m.parity["passed"] is True
    assert m.artifacts["onnx_int8"].quantization["recipe"] in ("static_qdq_u8s8_per_channel",
                                                                      "dynamic_s8_per_channel")


def test_artifacts_match_pytorch_in_their_runtimes(bundle_dir):
    model = bw.load_model(bundle_dir, read_manifest(bundle_dir))
    values, missing = bw.load_windows(bundle_dir / bw.HOLDOUT_FILE, STEPS)
    values, missing = values[:40], missing[:40]
    with torch.no_grad():
        ref = [o.numpy() for o in model(torch.from_numpy(values), torch.from_numpy(missing))]

    sess = ort.InferenceSession(str(bundle_dir / "model_fp32.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"values": values, "missing": missing})     # dynamic batch axis
    assert [o.shape for o in out] == [(40, 6), (40, 6, STEPS - 1), (40, 6, 6)]
    assert np.abs(out[0] - ref[0]).max() < 1e-4
    assert np.allclose(out[2].sum(-1), 1.0, atol=1e-5)                 # attention rows are distributions
    sess8 = ort.InferenceSession(str(bundle_dir / "model_int8.onnx"), providers=["CPUExecutionProvider"])
    assert np.sqrt(np.mean((sess8.run(["forecast"], {"values": values, "missing": missing})[0] - ref[0]) ** 2)) < 0.05

    for name, bound in (("model_fp32.tflite", 1e-4), ("model_int8.tflite", 0.05)):
        interp = litert.Interpreter(model_path=str(bundle_dir / name), num_threads=1)
        interp.allocate_tensors()
        run = interp.get_signature_runner()
        forecasts = np.stack([run(values=values[i:i + 1], missing=missing[i:i + 1])["forecast"][0]
                              for i in range(len(values))])
        rms = np.sqrt(np.mean((forecasts - ref[0]) ** 2))
        assert rms < bound, (name, rms)


def test_artifacts_are_exported_from_the_folded_model(bundle_dir):
    """The artifacts compute model.pt's function (all three outputs) with the temporal keys and
    values folded into constants: fewer FLOPs, and the manifest says so."""
    from torch.utils.flop_counter import FlopCounterMode
    m = read_manifest(bundle_dir)
    assert m.model["exported_form"] == FOLD_FORM
    model = bw.load_model(bundle_dir, m)
    values, missing = bw.load_windows(bundle_dir / bw.HOLDOUT_FILE, STEPS)
    values, missing = values[:40].copy(), missing[:40].copy()
    values[::3, -3, 2] = 0.0                                 # some missing context readings, as the agent feeds them
    missing[::3, -3, 2] = 1.0
    folded = fold(model, values, missing)
    with torch.no_grad():
        ref = [o.numpy() for o in model(torch.from_numpy(values), torch.from_numpy(missing))]
    out = ort.InferenceSession(str(bundle_dir / "model_fp32.onnx"),
                               providers=["CPUExecutionProvider"]).run(None, {"values": values, "missing": missing})
    for got, want in zip(out, ref):
        assert np.abs(got - want).max() < 1e-4
    flops = []
    for module in (model, folded):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            module(torch.from_numpy(values[:1]), torch.from_numpy(missing[:1]))
        flops.append(counter.get_total_flops())
    assert flops[1] < flops[0] / 2, flops


def test_fold_refuses_a_model_whose_forward_it_does_not_follow(bundle_dir):
    """A change to model.py's forward that convert/fold.py does not follow stops the export."""
    from convert.model import SpatioTemporalForecaster

    class Doubled(SpatioTemporalForecaster):
        def forward(self, values, missing):
            forecast, temporal, spatial = super().forward(2.0 * values, missing)
            return forecast, temporal, spatial

    m = read_manifest(bundle_dir)
    model = Doubled(bw.load_model(bundle_dir, m).spec)
    model.load_state_dict(bw.load_model(bundle_dir, m).state_dict())
    values, missing = bw.load_windows(bundle_dir / bw.HOLDOUT_FILE, STEPS)
    with pytest.raises(FoldError, match="does not reproduce the trained one"):
        fold(model, values[:8], missing[:8])


def _snapshot(directory: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_verify_is_read_only_and_records_figures_only_when_asked(bundle_dir, tmp_path, capsys):
    b = _copy(bundle_dir, tmp_path)
    write_manifest(b, dataclasses.replace(read_manifest(b), parity=None))
    before = _snapshot(b)
    assert main(["verify", str(b), "--min-agreement", "0.95"]) == 0
    assert _snapshot(b) == before             # a check changes nothing: same files, bytes and mtimes
    assert "verify: passed" in capsys.readouterr().out
    assert main(["verify", str(b), "--min-agreement", "0.95", "--record"]) == 0
    parity = json.loads((b / "manifest.json").read_text())["parity"]
    for kind in ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"):
        assert parity[kind]["alert_agreement"] >= 0.95
        assert parity[kind]["latency_ms_p50"] > 0
    assert parity["onnx_fp32"]["forecast_max_abs_error"] < 1e-4
    assert "verify: passed" in capsys.readouterr().out
    load_bundle(b)            # the rewritten manifest still matches every file


def test_verify_reports_calm_spiked_and_perturbed_windows(bundle_dir):
    # The figures `verify --min-agreement 0.95 --record` writes: the module bundle's train ran that verify (train's
    # verify is the command's own, record on) on these very files, so they are read here, not made again (suite10;
    # test_verify_is_read_only_and_records_figures_only_when_asked runs the command on a copy).
    parity = json.loads((bundle_dir / "manifest.json").read_text())["parity"]
    held_out = parity["held_out_windows"]
    assert parity["windows"] == 3 * held_out == 3 * parity["perturbed_windows"]
    assert parity["alerts_reference"]["perturbed"] > 0          # anomalous context reaches the threshold
    for kind in ("onnx_int8", "tflite_int8"):
        groups = parity[kind]["groups"]
        assert set(groups) == {"calm", "spiked", "perturbed"}
        assert all(g["alert_agreement"] >= 0.95 for g in groups.values())
    # int8 export calibrated on the calm windows and perturbed copies, and measured on both
    quant = json.loads((bundle_dir / "manifest.json").read_text())["artifacts"]["tflite_int8"]["quantization"]
    assert quant["calibration"]["perturbed_windows"] == 8 * quant["calibration"]["calm_windows"]
    assert set(quant["candidates"]) == {"weight_only_int8_per_channel", "dynamic_range_int8_per_channel",
                                        "static_int8_per_channel_minmax"}
    best = min(quant["candidates"], key=lambda r: quant["candidates"][r]["forecast_rms_error"])
    assert quant["recipe"] == best and "forecast_rms_error_perturbed" in quant["candidates"][best]


def test_perturbations_touch_the_context_rows():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, STEPS, 6)).astype(np.float32)
    missing = np.zeros_like(values)
    missing[:, :, 5] = 1.0                                            # one sensor always missing
    values[:, :, 5] = 0.0
    floor = np.full(6, -7.0, np.float32)
    out, out_missing, kinds = perturb_context(values, missing, floor, seed=1, copies=2)
    assert out.shape == (60, STEPS, 6) and kinds[:3] == ["spike", "level_shift", "floor_drop"]
    assert np.array_equal(out_missing, np.repeat(missing, 2, axis=0)) and not out[:, :, 5].any()
    changed = np.abs(out - np.repeat(values, 2, axis=0)) > 1e-6
    touched = [j for j in range(60) if changed[j].any()]
    assert len(touched) >= 40                                        # all but the missing-sensor picks
    for j in touched:
        assert changed[j, :-1].any()                                 # the model's input rows, not only the target
        if kinds[j] == "spike":
            assert not changed[j, -1].any()
        if kinds[j] == "floor_drop":
            assert np.all(out[j][changed[j]] == -7.0)
    again, _, _ = perturb_context(values, missing, floor, seed=1, copies=2)
    assert np.array_equal(out, again)                                # seeded: reproducible
    norm = Normalisation(mean={"a": 100.0, "b": 5.0}, std={"a": 4.0, "b": 2.0})
    assert np.allclose(floor_from_normalisation(norm, ["a", "b"]), [-25.0, -2.5])


@pytest.mark.skipif(not (DEMO_BUNDLE / "manifest.json").exists(), reason="the demo bundle is not built")
def test_verify_fails_on_an_int8_artifact_that_saturates_on_incidents(tmp_path, capsys):
    """Static int8 calibrated on calm windows only: fine on calm data, saturated by anomalous context."""
    b = _copy(DEMO_BUNDLE, tmp_path)
    manifest = read_manifest(b)
    model = bw.load_model(b, manifest)
    calm_values, calm_missing = bw.load_windows(b / bw.CALIBRATION_FILE, manifest.steps)
    quant = export_tflite_int8(model, b / "model_int8.tflite", Calibration(calm_values, calm_missing),
                               recipes=("static_int8_per_channel_minmax",))
    assert quant["recipe"] == "static_int8_per_channel_minmax"
    write_manifest(b, manifest)                                      # hashes match: only the numbers are wrong
    assert main(["verify", str(b), "--record"]) == 1
    captured = capsys.readouterr()
    assert "FAIL tflite_int8: alert agreement on perturbed windows" in captured.err
    assert "verify: FAILED" in captured.out
    parity = json.loads((b / "manifest.json").read_text())["parity"]
    assert parity["passed"] is False
    groups = parity["tflite_int8"]["groups"]
    assert groups["perturbed"]["alert_agreement"] < 0.99 <= groups["calm"]["alert_agreement"]
    assert all(g["alert_agreement"] >= 0.99 for g in parity["onnx_int8"]["groups"].values())


def test_verify_fails_on_a_flipped_byte(bundle_dir, tmp_path, capsys):
    b = _copy(bundle_dir, tmp_path)
    path = b / "model_int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert main(["verify", str(b)]) == 1
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and "model_int8.tflite" in err


def test_verify_fails_on_a_model_for_another_sensor_count(bundle_dir, tmp_path, capsys):
    b = _copy(bundle_dir, tmp_path)
    manifest = read_manifest(b)
    export_onnx_fp32(build_model(ModelSpec(sensors=5, steps=STEPS, d_model=16, heads=2)), b / "model_fp32.onnx")
    write_manifest(b, manifest)              # hashes now match: only the shape is wrong
    assert main(["verify", str(b)]) == 1
    err = capsys.readouterr().err
    assert "shape error" in err and "6 sensors" in err


def test_verify_fails_clearly_on_a_manifest_that_lies_about_the_window(bundle_dir, tmp_path, capsys):
    # model.pt loads (its weights do not depend on the window length) but cannot run on windows of the
    # manifest's steps: on the old code PyTorch's RuntimeError escaped stad-convert as a traceback.
    b = _copy(bundle_dir, tmp_path)
    manifest = read_manifest(b)
    manifest.steps = STEPS // 2
    write_manifest(b, manifest)              # hashes match: only what it says is wrong
    assert main(["verify", str(b)]) == 1
    err = capsys.readouterr().err
    assert f"verify failed: {b / 'model.pt'}: does not run on the manifest's windows ({STEPS // 2} steps" in err


@pytest.mark.parametrize("lie", ["residual_std", "threshold"])
def test_verify_fails_on_a_manifest_whose_scale_or_threshold_is_not_the_models(bundle_dir, tmp_path, capsys, lie):
    # A hand-written or mixed-up manifest: every artifact matches PyTorch, so the parity checks pass, but
    # the agent would score every tick off by the lie. On the old code verify passed both (qa11).
    b = _copy(bundle_dir, tmp_path)
    manifest = read_manifest(b)
    if lie == "residual_std":
        manifest.residual_std = {s: v * 1000 for s, v in manifest.residual_std.items()}
        said = "residual_std.S01_flow: "
    else:
        manifest.threshold = {**manifest.threshold, "value": 1e-6}
        said = "threshold.value: 1e-06, over which PyTorch's own scores put 100% of the calm held-out windows"
    write_manifest(b, manifest)              # hashes match: only what it says is wrong
    assert main(["verify", str(b)]) == 1
    err = capsys.readouterr().err
    assert f"verify failed: {b / 'manifest.json'}: the manifest's numbers are not this model's: " in err
    assert said in err, err


@pytest.mark.parametrize("lie", ["tick_s", "sensor order", "normalisation mean", "holdout_rows"])
def test_verify_fails_on_a_manifest_that_is_not_its_training_datas(bundle_dir, tmp_path, capsys, lie):
    # Lies the bundle's own files could not tell (they hold normalised rows only): every artifact still
    # matches PyTorch, and on the old code verify passed all four; the agent would then have aligned on
    # the wrong tick, fed sensors into each other's inputs, or scored every tick off by the shift (qa12).
    b = _copy(bundle_dir, tmp_path)
    manifest = read_manifest(b)
    if lie == "tick_s":
        manifest.tick_s = manifest.tick_s * 2
        said = f"tick_s: {manifest.tick_s:g} in the manifest, but the training rows are {manifest.tick_s / 2:g} s apart"
    elif lie == "sensor order":
        manifest.sensors = [manifest.sensors[1], manifest.sensors[0], *manifest.sensors[2:]]
        said = f"sensors: {manifest.sensors} in the manifest, but the training data's columns were"
    elif lie == "normalisation mean":
        s = manifest.sensors[2]
        mean = dict(manifest.normalisation.mean)
        mean[s] += 0.5 * manifest.normalisation.std[s]
        manifest.normalisation = Normalisation(mean=mean, std=dict(manifest.normalisation.std))
        said = f"normalisation.mean.{s} / normalisation.std.{s}: "
    else:
        first, end = manifest.data["holdout_rows"]
        manifest.data = {**manifest.data, "holdout_rows": [first - 200, end]}
        said = f"data.holdout_rows: [{first - 200}, {end}] in the manifest, but holdout.npy holds {end - first} rows " \
               f"from row {first}"
    write_manifest(b, manifest)              # hashes match: only what it says is wrong
    assert main(["verify", str(b)]) == 1
    err = capsys.readouterr().err
    assert f"verify failed: {b / 'manifest.json'}: the manifest is not its training data's: " in err, err
    assert said in err, err


def test_a_bundle_without_a_raw_sample_verifies_with_a_note(bundle_dir, tmp_path, capsys):
    # A bundle made before the converter stored data.raw_sample: it still loads and verifies.
    b = _copy(bundle_dir, tmp_path)
    manifest = read_manifest(b)
    assert len(manifest.data["raw_sample"]["ts"]) == 16 and manifest.data["raw_sample"]["sensors"] == manifest.sensors
    manifest.data = {k: v for k, v in manifest.data.items() if k != "raw_sample"}
    write_manifest(b, manifest)
    assert main(["verify", str(b)]) == 0
    assert "note: the manifest has no data.raw_sample" in capsys.readouterr().err
    load_bundle(b)


def test_inspect_prints_the_manifest(bundle_dir, capsys):
    assert main(["inspect", str(bundle_dir)]) == 0
    out = capsys.readouterr().out
    assert "tiny-bundle" in out and "onnx_int8" in out and "threshold" in out and "S02_speed" in out
    assert main(["inspect", "--json", str(bundle_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["sensors"] == SENSORS


def test_bundle_rejects_a_different_config(bundle_dir):
    with pytest.raises(BundleError, match="sensors only in the config: S03_flow"):
        load_bundle(bundle_dir, expect=Expectation(sensors=SENSORS + ["S03_flow"], steps=STEPS, tick_s=60))
    with pytest.raises(BundleError, match="window steps: bundle 12, config window.steps 32"):
        load_bundle(bundle_dir, expect=Expectation(sensors=SENSORS, steps=32, tick_s=60))
    assert resolve_path("builtin:demo-corridor").parts[-2:] == ("models", "demo-corridor")
    with pytest.raises(BundleError):
        resolve_path("builtin:../etc")


def test_scores_are_error_over_residual_scale_and_zero_when_missing():
    newest = np.array([1.0, 2.0, 0.0])
    forecast = np.array([0.5, 2.0, 3.0])
    scale = residual_std(np.array([[1.0, 1.0, 1.0], [-1.0, 3.0, 0.0]]), np.zeros((2, 3), bool),
                         np.zeros((2, 3)))
    assert np.allclose(scale, [1.0, np.sqrt(5.0), np.sqrt(0.5)])
    s = sensor_scores(newest, np.array([False, False, True]), forecast, np.array([0.25, 1.0, 1.0]))
    assert np.allclose(s, [2.0, 0.0, 0.0])


def test_an_ensemble_bundle_is_the_mean_of_independent_runs_and_the_agent_scores_it(bundle_dir, tmp_path):
    """`--members 2 --seed 0`: two forecasters trained exactly as `--seed 0` and `--seed 1` would be,
    shipped as one graph whose outputs are their mean; exported, it loads and forecasts in the agent.
    The `--seed 1` run is the module's bundle (TINY_TRAIN, MODULE_SEED: read only)."""
    from agent.scorers.tflite import TfliteScorer
    from convert.model import EnsembleForecaster
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    alone, ens = bundle_dir, tmp_path / "ens"
    assert read_manifest(alone).training["options"]["seed"] == 1
    assert main(["train", "-c", str(cfg), "-o", str(ens), "--no-export", "--members", "2", *TINY_TRAIN]) == 0
    m = read_manifest(ens)
    assert m.model["members"] == 2
    assert [member["seed"] for member in m.training["members"]] == [0, 1]
    model = bw.load_model(ens, m)
    assert isinstance(model, EnsembleForecaster) and len(model.members) == 2
    single = bw.load_model(alone, read_manifest(alone))
    assert m.model["parameters"] == 2 * read_manifest(alone).model["parameters"]
    for key, weight in single.state_dict().items():            # the second member is the seed-1 run
        assert torch.equal(model.members[1].state_dict()[key], weight), key

    values, missing = bw.load_windows(ens / bw.HOLDOUT_FILE, STEPS)
    v, mm = torch.from_numpy(values[:20]), torch.from_numpy(missing[:20])
    with torch.no_grad():
        out = model(v, mm)
        parts = [member(v, mm) for member in model.members]
    for i in range(3):                                          # forecast and both attention maps
        assert torch.allclose(out[i], (parts[0][i] + parts[1][i]) / 2, atol=1e-6)
    folded = fold(model, values[:20], missing[:20])             # the export's form reproduces it
    with torch.no_grad():
        assert torch.allclose(folded(v, mm)[0], out[0], atol=1e-4)

    # One TFLite int8 candidate, the one the default export keeps for this ensemble (the three candidates and the
    # choice among them are test_verify_reports_calm_spiked_and_perturbed_windows's, on the module's bundle): each
    # candidate is a conversion of its own, ~6 CPU-s here (suite6).
    assert main(["export", str(ens), "--only", "onnx_fp32,tflite_int8",
                 "--tflite-int8-recipes", "dynamic_range_int8_per_channel"]) == 0
    quant = read_manifest(ens).artifacts["tflite_int8"].quantization
    assert quant["recipe"] == "dynamic_range_int8_per_channel" and set(quant["candidates"]) == {quant["recipe"]}
    scorer = TfliteScorer(load_bundle(ens))
    got = np.stack([scorer.run(values[i:i + 1], missing[i:i + 1])[0] for i in range(20)])
    assert np.sqrt(np.mean((got - out[0].numpy()) ** 2)) < 0.05


def test_weight_averaging_ships_the_averaged_weights(bundle_dir, tmp_path, capsys):
    """`--ema-decay`: the weights validated and shipped are the moving average, not the last step's,
    and a decay outside [0, 1) or fewer than one member is refused with the reason. The plain run is
    the module's bundle, trained with the same options (TINY_TRAIN, MODULE_SEED) and no averaging."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    plain, averaged = bundle_dir, tmp_path / "ema"
    assert read_manifest(plain).training["options"]["ema_decay"] == 0.0
    assert main(["train", "-c", str(cfg), "-o", str(averaged), "--no-export", "--ema-decay", "0.9",
                 *TINY_TRAIN, *MODULE_SEED]) == 0
    m = read_manifest(averaged)
    assert m.training["options"]["ema_decay"] == 0.9
    a = bw.load_model(averaged, m).state_dict()
    b = bw.load_model(plain, read_manifest(plain)).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)
    # the average itself: ema ← d·ema + (1 − d)·w after every step, starting from the initial weights
    live = torch.nn.Linear(2, 1)
    avg = WeightAverage(live, 0.9)
    start = live.weight.detach().clone()
    steps = [torch.full_like(start, v) for v in (1.0, -2.0, 4.0)]
    for w in steps:
        with torch.no_grad():
            live.weight.copy_(w)
        avg.update(live)
    want = start
    for w in steps:
        want = 0.9 * want + 0.1 * w
    assert torch.allclose(avg.model.weight, want)
    assert not avg.model.weight.requires_grad
    capsys.readouterr()
    assert main(["train", "-c", str(cfg), "-o", str(tmp_path / "bad"), "--no-export", "--ema-decay", "1",
                 *TINY_TRAIN]) == 2
    assert "--ema-decay: must be in [0, 1), got 1.0" in capsys.readouterr().err
    assert main(["train", "-c", str(cfg), "-o", str(tmp_path / "bad"), "--no-export", "--members", "0",
                 *TINY_TRAIN]) == 2
    assert "--members: must be at least 1, got 0" in capsys.readouterr().err
