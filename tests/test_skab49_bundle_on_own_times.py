"""bench/accuracy.py places a SKAB bundle's training rows at the SKAB files' own times before it evaluates (skab49).

SKAB's protocol warms each file up on its first 400 rows, the rows its bundle was trained on. The bench trains on a
re-timed copy of them (one tidy timeline from 2020-01-01), so the bundle's manifest names training spans that match no
tick the agent replays: the start warm-up's held-out rule (agent/held_out_ticks.py) saw no training row and every
model tier's threshold was fitted in-sample, unsaid. The bench now evaluates a copy of the bundle whose manifest places
each training segment back on its file's own times.

Real parts: SKAB-format CSV files (one overlapping another's scored part, as SKAB's other/2–3 do), the bench's own
`train_skab_bundle` (the real `stad-convert train`, a small ONNX model) and the agent's `evaluate`.
"""
import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from conftest import bench_module, built_once  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEADER = ("datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;"
          "Volume Flow RateRMS")


def _skab_file(path: Path, start: datetime, n: int, seed: int, labelled: bool = True) -> list[str]:
    """A SKAB-format recording of `n` rows a second apart from `start`; its timestamps as written."""
    rng = np.random.default_rng(seed)
    base = np.array([0.2, 0.27, 2.1, 0.38, 90.0, 26.8, 230.0, 120.0])
    wave = np.sin(np.arange(n) / 4.0 + seed)[:, None] + 0.02 * rng.standard_normal((n, 8))   # a loop, noise
    stamps = [(start + timedelta(seconds=k)).strftime("%Y-%m-%d %H:%M:%S") for k in range(n)]
    rows = [";".join([t] + [f"{v:.5f}" for v in base * (1 + 0.05 * wave[k])]) + (";0.0;0.0" if labelled else "")
            for k, t in enumerate(stamps)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER + (";anomaly;changepoint" if labelled else "")] + rows) + "\n")
    return stamps


def _skab(root: Path) -> dict[str, list[str]]:
    """anomaly-free.csv and three labelled files; other/2 starts inside other/1's scored part (row 400 on)."""
    day = datetime(2020, 3, 1, 10)
    return {"anomaly-free/anomaly-free.csv": _skab_file(root / "anomaly-free" / "anomaly-free.csv", day, 700, 1,
                                                         labelled=False),
            "other/1.csv": _skab_file(root / "other" / "1.csv", day + timedelta(hours=1), 600, 2),
            "other/2.csv": _skab_file(root / "other" / "2.csv", day + timedelta(hours=1, seconds=450), 600, 3),
            "valve1/0.csv": _skab_file(root / "valve1" / "0.csv", day + timedelta(hours=3), 600, 4)}


def _train(out: Path) -> None:
    _skab(out / "skab")
    bench_module("accuracy").train_skab_bundle(
        out / "skab", REPO / "configs" / "skab.yaml", ["window.steps=16"], out / "bundle",
        ["--only", "onnx_fp32", "--epochs", "4", "--d-model", "8", "--ff-hidden", "8", "--threads", "1",
         "--windows-per-epoch", "512", "--quiet"])


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def test_each_training_segment_is_placed_on_its_own_files_rows(tmp_path):
    built = built_once("skab49-skab-bundle", _train)
    stamps = _skab(tmp_path / "skab")                 # the same files again (deterministic): what the bench reads
    bench = bench_module("accuracy")
    placed = bench.skab_bundle_on_own_times(built / "bundle", tmp_path / "skab", tmp_path)
    assert placed != built / "bundle"
    provenance = json.loads((built / "bundle" / "TRAINING_DATA.json").read_text())
    source = {f["file"]: f["from"] for f in provenance["files"]}
    before = json.loads((built / "bundle" / "manifest.json").read_text())["data"]["segments"]
    after = json.loads((placed / "manifest.json").read_text())["data"]["segments"]
    assert [s["recording"] for s in after] == [s["recording"] for s in before] and len(after) == 4
    in_scored_parts = {t for name, ts in stamps.items() if name != "anomaly-free/anomaly-free.csv" for t in ts[400:]}
    for seg, was in zip(after, before):
        name = source[seg["recording"]]
        kept = [t for t in (stamps[name] if name.startswith("anomaly-free") else stamps[name][:400])
                if t not in in_scored_parts]          # what the training copy holds of that file
        inside = [t for t in stamps[name] if seg["first_ts"] <= _epoch(t) < seg["first_ts"] + seg["train"]]
        assert inside == kept[:seg["train"]], name     # exactly its training rows, on the file's own clock
        assert was["first_ts"] >= _epoch("2020-01-01 00:00:00") and was["first_ts"] < _epoch("2020-03-01 00:00:00")
    assert (built / "bundle" / "manifest.json").read_text() != (placed / "manifest.json").read_text()


def test_the_agent_evaluating_skab_sees_which_warm_up_ticks_were_training_rows(tmp_path, caplog):
    built = built_once("skab49-skab-bundle", _train)
    stamps = _skab(tmp_path / "skab")
    bench = bench_module("accuracy")
    placed = bench.skab_bundle_on_own_times(built / "bundle", tmp_path / "skab", tmp_path)
    spans = [(s["first_ts"], s["first_ts"] + s["train"])
             for s in json.loads((placed / "manifest.json").read_text())["data"]["segments"]]
    trained = sorted(sum(any(lo <= _epoch(t) < hi for lo, hi in spans) for t in stamps[name][:400])
                     for name in ("other/1.csv", "other/2.csv", "valve1/0.csv"))
    from agent.evaluate import evaluate
    seen = {}
    for label, bundle in (("as trained", built / "bundle"), ("placed", placed)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="stad.pipeline"):
            cfg = bench.skab_config(REPO / "configs" / "skab.yaml", ["scoring.latency_budget_ms=100000"], str(bundle))
            evaluate(cfg, data_path=str(tmp_path / "skab"), bundle=str(bundle), scorers=["onnx"])
        seen[label] = [r.getMessage() for r in caplog.records if "rows its bundle was trained on" in r.getMessage()]
    assert seen["as trained"] == []                   # re-timed spans: no warm-up tick matched, the fit in-sample
    assert min(trained) > 0 and len(seen["placed"]) == 3, seen     # each labelled file's warm-up (its first 400
    assert sorted(int(m.split()[1]) for m in seen["placed"]) == trained, seen   # rows) holds its training rows
