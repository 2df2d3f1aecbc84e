"""`stad-agent evaluate` end to end on small labelled data (agent/evaluate/)."""
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from agent import config
from agent.evaluate import baselines, evaluate, labelled, traces
from agent.evaluate.report import format_markdown, format_table
from conftest import shared_dataset, valid_report

SKAB_DATA = shared_dataset("skab", "valve1")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_planted_csv(path: Path, n: int = 1500, start: int = 1000, length: int = 60, seed: int = 1) -> None:
    """Two smooth noisy sensors; a spike burst on 'a' at rows [start, start + length) labelled anomalous."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    a = np.sin(i / 20) + 0.1 * rng.normal(size=n)
    b = 0.5 * np.cos(i / 30) + 0.1 * rng.normal(size=n)
    label = np.zeros(n, int)
    label[start:start + length] = 1
    a[start:start + length] += 3.0 * rng.choice([-1.0, 1.0], size=length)   # erratic, not a clean step
    t0 = dt.datetime(2024, 1, 1)
    lines = ["timestamp,a,b,anomaly"]
    for k in range(n):
        stamp = (t0 + dt.timedelta(seconds=int(k))).isoformat(sep=" ")
        lines.append(f"{stamp},{a[k]:.5f},{b[k]:.5f},{label[k]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def planted_config(tmp_path: Path) -> config.AgentConfig:
    write_planted_csv(tmp_path / "planted.csv")
    return config.from_dict({
        "sensors": ["a", "b"],
        "sources": [{"type": "replay", "path": "planted.csv", "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 400}, "sinks": [],
    }, base_dir=str(tmp_path))


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    cfg = planted_config(tmp)
    report = evaluate(cfg, report_path=str(tmp / "report.json"), plot_dir=str(tmp / "plots"))
    return tmp, report


def scorer(report: dict, name: str) -> dict:
    return next(s for s in report["scorers"] if s["name"] == name)


def test_planted_anomaly_is_found_and_beats_random(planted_run):
    _, report = planted_run
    numpy_row = scorer(report, "numpy")
    assert numpy_row["events"]["events_total"] == 1
    assert numpy_row["events"]["events_detected"] == 1
    assert numpy_row["auc_pr"] > 3 * scorer(report, "random")["auc_pr"]
    assert numpy_row["anomalous_rows"] == 60
    assert numpy_row["tiers"] == {"numpy": numpy_row["scored_rows"]}


def test_training_and_scored_parts_are_apart_and_reported(planted_run):
    _, report = planted_run
    (f,) = report["files"]
    assert report["protocol"]["name"] == "warmup"
    assert f["train_ticks"] == 400 and f["train_rows"] == 400
    assert f["scored_rows"] == 1100
    assert f["train_until"] < f["scored_from"]


def test_report_validates_against_schema(planted_run):
    tmp, report = planted_run
    on_disk = valid_report(tmp / "report.json", report)
    assert "numpy" in format_table(report)
    assert (tmp / "report.md").read_text() == format_markdown(on_disk)


def test_plots_are_non_empty_pngs(planted_run):
    tmp, report = planted_run
    pngs = sorted((tmp / "plots").glob("*.png"))
    assert pngs and [str(p) for p in pngs] == sorted(report["plots"])
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_cli_entry_runs_and_prints_table(tmp_path, capsys):
    from agent.cli import main
    planted_config(tmp_path)
    (tmp_path / "cfg.yaml").write_text(
        "sensors: [a, b]\nsources:\n  - {type: replay, path: planted.csv, label_columns: [anomaly]}\n"
        "tick_s: 1\nwindow: {steps: 16}\nwarmup: {ticks: 400}\nsinks: []\n")
    rc = main(["evaluate", "-c", str(tmp_path / "cfg.yaml"), "--scorer", "numpy", "--scorer", "random",
               "--report", str(tmp_path / "out.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "random" in out and "rolling_z" not in out
    assert json.loads((tmp_path / "out.json").read_text())["protocol"]["name"] == "warmup"


def test_unlabelled_data_is_refused(tmp_path):
    (tmp_path / "plain.csv").write_text("timestamp,a\n" + "".join(
        f"2024-01-01 00:{m:02d}:{s:02d},{s}\n" for m in range(10) for s in range(60)))
    cfg = config.from_dict({"sensors": ["a"], "sources": [{"type": "replay", "path": "plain.csv"}],
                            "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 100}, "sinks": []},
                           base_dir=str(tmp_path))
    with pytest.raises(ValueError, match="no labelled file"):
        evaluate(cfg, scorers=["numpy"])


def test_train_ticks_follow_the_protocol():
    from agent.window import Row
    rows = [Row(ts=float(i), values=np.zeros(1), missing=np.zeros(1, bool), carried=np.zeros(1, bool),
                label=None if i % 5 == 4 else 0) for i in range(1000)]      # every 5th tick is a gap tick
    cfg = config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}], "warmup": {"ticks": 300}})
    assert labelled.train_ticks_for(rows, "warmup", cfg) == 300
    # the 400th source row is tick 498 (4 rows per 5 ticks): ticks 0..498 train
    assert labelled.train_ticks_for(rows, "skab", cfg) == 499
    # 800 source rows -> NAB probation floor(0.15 · 800) = 120 rows; the 120th is tick 148
    assert labelled.train_ticks_for(rows, "nab", cfg) == 149


def test_rolling_z_baseline_hand_case():
    values = np.array([[1.0], [3.0], [1.0], [3.0], [10.0]])
    z = baselines.rolling_z_scores(values, window=4)
    assert np.isnan(z[:4]).all()
    assert z[4, 0] == pytest.approx(abs(10.0 - 2.0) / 1.0)    # mean 2, std 1 over the previous 4


@pytest.mark.skipif(SKAB_DATA is None, reason="real-data check needs the shared SKAB copy at /work/shared/data/skab "
                                              "or ../shared/data/skab next to the checkout (absent)")
def test_real_skab_file_runs_under_the_skab_protocol(tmp_path):
    import shutil
    src = SKAB_DATA / "valve1" / "0.csv"
    data = tmp_path / "valve1"
    data.mkdir()
    shutil.copyfile(src, data / "0.csv")       # a tmp copy, never into the repo
    sensors = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature",
               "Thermocouple", "Voltage", "Volume Flow RateRMS"]
    cfg = config.from_dict({
        "sensors": sensors,
        "sources": [{"type": "replay", "path": str(data), "separator": ";", "time_column": "datetime",
                     "label_columns": ["anomaly"]}],
        "tick_s": 1, "window": {"steps": 16}, "warmup": {"ticks": 300}, "sinks": [],
    }, base_dir=str(tmp_path))
    report = evaluate(cfg, scorers=["numpy", "random"])
    (f,) = report["files"]
    assert report["protocol"]["name"] == "skab"
    assert f["train_rows"] == 400
    assert scorer(report, "numpy")["anomalous_rows"] > 0


def test_attention_heat_map_is_drawn_when_results_carry_attention(tmp_path):
    pytest.importorskip("matplotlib")
    from agent.evaluate.plots import plot_all
    n, steps = 200, 16
    ts = np.arange(n, dtype=float)
    labels = np.zeros(n, int)
    labels[120:140] = 1
    score = np.where(np.arange(n) < 50, np.nan, 1.0)
    score[125:135] = 8.0
    trace = traces.Trace(
        file="synthetic.csv", scorer="onnx", ts=ts, values=np.random.default_rng(0).normal(size=(n, 3)),
        labels=labels, events=[None] * n, train=np.arange(n) < 50, score=score, threshold=np.full(n, 4.0),
        alert_spans=[(125.0, 134.0)], onsets=[126.0], tiers={"onnx": 150},
        attention=[{"ts": 130.0, "score": 8.0, "time_weights": np.linspace(0, 1, steps),
                    "sensor_weights": np.array([0.7, 0.2, 0.1])}])
    paths = plot_all({"onnx": [trace]}, str(tmp_path), ["s1", "s2", "s3"])
    assert len(paths) == 2 and any(p.endswith(".onnx.attention1.png") for p in paths)
    for p in paths:
        assert Path(p).read_bytes()[:8] == PNG_MAGIC and Path(p).stat().st_size > 5000


def test_a_labelled_span_with_empty_ticks_is_shaded_as_one_span():
    """SKAB's rows miss some one-second ticks (label −1 there): the span is one, not stripes."""
    from agent.evaluate.plots import label_spans
    labels = np.array([0, 0, 1, 1, -1, 1, -1, -1, 1, 0, -1, 1, 1, 0, -1])
    n = labels.size
    trace = traces.Trace(file="gappy.csv", scorer="numpy", ts=np.arange(n, dtype=float) + 100.0,
                         values=np.zeros((n, 1)), labels=labels, events=[None] * n, train=np.zeros(n, bool),
                         score=np.ones(n), threshold=np.full(n, 2.0), alert_spans=[], onsets=[])
    assert label_spans(trace) == [(102.0, 108.0), (111.0, 112.0)]


def test_evaluate_plot_says_where_it_wrote_the_figures(tmp_path):
    pytest.importorskip("matplotlib")
    import subprocess
    import sys
    write_planted_csv(tmp_path / "planted.csv", n=700, start=500, length=40)
    (tmp_path / "planted.yaml").write_text(
        "sensors: [a, b]\n"
        "sources: [{type: replay, path: planted.csv, label_columns: [anomaly]}]\n"
        "tick_s: 1\nwindow: {steps: 16}\nwarmup: {ticks: 300}\nsinks: []\n", encoding="utf-8")
    out = tmp_path / "figs"
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", "-c", str(tmp_path / "planted.yaml"),
                          "--scorer", "numpy", "--plot", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    pngs = sorted(out.glob("*.png"))
    assert pngs and f"figures: {len(pngs)} written to {out.resolve()}" in res.stderr


# ---- the demo's simulator, its bundle, and what a failing scorer says ---------------------------

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo.yaml"
HAVE_DEMO_BUNDLE = (REPO / "agent" / "models" / "demo-corridor" / "manifest.json").exists()


def evaluate_cli(tmp_path, *args):
    import subprocess
    import sys
    report = tmp_path / "report.json"
    res = subprocess.run([sys.executable, "-m", "agent", "evaluate", *args, "--report", str(report)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    scored = {s["name"] for s in json.loads(report.read_text())["scorers"]} if report.exists() else set()
    return res, scored


@pytest.mark.skipif(not HAVE_DEMO_BUNDLE, reason="the demo bundle (agent/models/demo-corridor) is not built")
def test_the_demo_config_evaluates_its_endless_simulator_with_its_own_bundle(tmp_path):
    pytest.importorskip("onnxruntime")
    res, scored = evaluate_cli(tmp_path, "-c", str(DEMO), "--scorer", "numpy", "--scorer", "onnx")
    assert res.returncode == 0, res.stderr
    assert "no duration_s: evaluating 120000 simulated seconds" in res.stderr     # last anomaly's end + 1 h
    assert scored == {"numpy", "onnx"}                  # onnx from the config's scoring.bundle


@pytest.mark.skipif(not HAVE_DEMO_BUNDLE, reason="the demo bundle (agent/models/demo-corridor) is not built")
def test_bundle_option_takes_builtin_names_and_a_failing_named_scorer_exits_1(tmp_path):
    pytest.importorskip("onnxruntime")
    import yaml
    data = yaml.safe_load(DEMO.read_text())
    del data["scoring"]["bundle"]
    data["sources"][0]["duration_s"] = 100_000
    cfg = tmp_path / "no-bundle.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res, scored = evaluate_cli(tmp_path, "-c", str(cfg), "--bundle", "builtin:demo-corridor", "--scorer", "onnx")
    assert res.returncode == 0, res.stderr
    assert scored == {"onnx"}

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    for bundle, why in (([], "needs a model bundle: --bundle DIR (or builtin:NAME), or scoring.bundle"),
                        (["--bundle", str(broken)], "did not load from bundle")):
        res, scored = evaluate_cli(tmp_path, "-c", str(cfg), *bundle, "--scorer", "onnx", "--scorer", "numpy")
        assert res.returncode == 1, res.stderr
        assert "evaluate: scorer onnx failed: " in res.stderr and why in res.stderr
        assert "Traceback" not in res.stderr
        assert scored == {"numpy"}                      # what could run is still reported
        failed = next(line for line in res.stderr.splitlines() if line.startswith("evaluate: scorer onnx failed"))
        assert not bundle or "manifest.json" in failed, failed     # the reason itself, not "(see the log)"


@pytest.mark.skipif(not HAVE_DEMO_BUNDLE, reason="the demo bundle (agent/models/demo-corridor) is not built")
def test_evaluating_a_bundle_whose_int8_failed_its_parity_says_the_figure_is_the_fp32_artifacts(tmp_path):
    """A bundle whose recorded int8 parity failed runs its fp32 artifacts (agent/bundle.py); `run`,
    check-config and a hot swap say so, evaluate said nothing and its onnx row read as the int8
    model's (qa15's report)."""
    pytest.importorskip("onnxruntime")
    import yaml
    from conftest import failed_parity_variant
    failed = failed_parity_variant("demo-onnx-int8-failed", {"onnx_int8": 0.9612})
    data = yaml.safe_load(DEMO.read_text())
    data["sources"][0]["duration_s"] = 100_000
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res, scored = evaluate_cli(tmp_path, "-c", str(cfg), "--bundle", str(failed), "--scorer", "onnx")
    assert res.returncode == 0 and scored == {"onnx"}, res.stderr
    note = next((line for line in res.stderr.splitlines() if line.startswith("evaluate: note: ")), "")
    assert "onnx_int8 alert agreement 0.9612 on perturbed windows" in note and "onnx_int8 not run" in note, res.stderr
    res, _ = evaluate_cli(tmp_path, "-c", str(cfg), "--scorer", "onnx")       # the shipped bundle: nothing to say
    assert res.returncode == 0 and "evaluate: note: " not in res.stderr, res.stderr


@pytest.mark.skipif(not HAVE_DEMO_BUNDLE, reason="the demo bundle (agent/models/demo-corridor) is not built")
def test_a_model_tiers_figure_is_that_tier_alone_whatever_the_machine_load(tmp_path):
    """A replay runs flat out: with the daemon's latency budget on, a busy machine stepped the model
    tier down part-way through a file, and the figure reported as the tier's mixed in the fallback.
    The smallest budget (0.01 ms, which every tick exceeds) must not step evaluate's tier down."""
    pytest.importorskip("onnxruntime")
    import yaml
    data = yaml.safe_load(DEMO.read_text())
    data["sources"][0].update(fast_forward_s=0, duration_s=400 * 30, anomalies=[])
    data["warmup"]["ticks"] = 200
    data["scoring"].update(latency_budget_ms=0.01, fault_ticks=1)
    data["sinks"] = []
    cfg = config.from_dict(data, base_dir=str(REPO / "configs"))
    report = evaluate(cfg, scorers=["onnx"])
    tiers = scorer(report, "onnx")["tiers"]
    assert set(tiers) == {"onnx"} and tiers["onnx"] > 100, tiers
