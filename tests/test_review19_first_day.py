"""A new user's first day (review19): what the agent and the converter said nothing about.

- A replay folder whose recordings are all compressed (`day1.csv.gz`: a historian's export): the
  replay reads only plain *.csv / *.jsonl / *.ndjson, so it read nothing — `check-config` said ok,
  `run` ended at once with `0 records in, rejected 0 (none)`, exit 0 (a `warmup.replay` folder of
  the same kind was already refused). Now both exit 2 naming `sources[0].path` and the file.
- A folder with `day1.csv` and `day2.csv.gz`: the second day was left out without a word by
  check-config, run and `stad-convert train` (one recording read: not even a per-recording list to
  miss it from). Now a `note:` line names it, and `train` says it on stderr.
- A bundle configured where no runtime of the chain's model tiers is installed (a gateway that
  ran `pip install -e .`): `check-config` said ok, `run` then scored with the numpy fallback only.
  Now a `note:` line says so (exit 0: the chain's step-down is the documented behaviour).

Real files, real gzip, the real CLI in a subprocess (a runtime is absent there the way
tests/test_convert_without_torch.py makes torch absent: its module set to None).
"""
from __future__ import annotations

import gzip
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
T0 = 1767225600


def csv_text(start: float, rows: int = 400) -> str:
    return "\n".join(["timestamp,a,b"] + [f"{start + i:.0f},{i % 7 * 0.5:.1f},{i % 5 * 0.25:.2f}"
                                          for i in range(rows)]) + "\n"


def replay_config(tmp_path: Path, folder: Path) -> Path:
    cfg = {"tick_s": 1, "sensors": ["a", "b"], "sources": [{"type": "replay", "path": str(folder)}],
           "window": {"steps": 16}, "warmup": {"ticks": 100}, "scoring": {"chain": ["numpy"]},
           "sinks": [], "state_dir": str(tmp_path / "state")}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def stad_agent(*args: str, without: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    blocked = "".join(f"sys.modules[{name!r}] = None; " for name in without)
    code = f"import sys; {blocked}from agent.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_replay_folder_of_compressed_recordings_is_refused_by_check_config_and_run(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "day1.csv.gz").write_bytes(gzip.compress(csv_text(T0).encode()))
    cfg = replay_config(tmp_path, folder)
    for command in ("check-config", "run"):
        res = stad_agent(command, "-c", str(cfg))
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        line = next((ln for ln in res.stderr.splitlines() if "sources[0].path:" in ln), "")
        assert "no file the replay reads" in line and "day1.csv.gz" in line, (command, res.stderr)
        assert "records in" not in res.stderr, res.stderr     # nothing started


def test_a_recording_the_replay_leaves_out_is_named_by_check_config_and_run(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "day1.csv").write_text(csv_text(T0))
    (folder / "day2.csv.gz").write_bytes(gzip.compress(csv_text(T0 + 86400).encode()))
    (folder / "README.md").write_text("recorded at the skid, one file a day\n")   # no recording: not named
    cfg = replay_config(tmp_path, folder)
    for command in ("check-config", "run"):
        res = stad_agent(command, "-c", str(cfg))
        assert res.returncode == 0, (command, res.stderr)
        notes = [ln for ln in res.stderr.splitlines() if "note: sources[0].path:" in ln]
        assert len(notes) == 1 and "day2.csv.gz" in notes[0] and "not read" in notes[0], (command, res.stderr)
        assert "README.md" not in notes[0]
    assert "400 records in" in res.stderr, res.stderr          # run read day1.csv, as before


def test_train_names_a_recording_it_leaves_out(tmp_path, caplog):
    from agent.config import load
    from convert.data import replay_recordings
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "day1.csv").write_text(csv_text(T0))
    (folder / "day2.csv.gz").write_bytes(gzip.compress(csv_text(T0 + 86400).encode()))
    cfg = load(str(replay_config(tmp_path, folder)))
    with caplog.at_level(logging.WARNING, logger="stad.convert"):
        recordings = replay_recordings(cfg, cfg.sources[0])
    assert [name for name, _ in recordings] == ["day1.csv"]
    said = [r.getMessage() for r in caplog.records if r.name.startswith("stad.convert")]
    assert any("day2.csv.gz" in m and "not read" in m for m in said), said


def demo_config_with(tmp_path: Path, chain: list[str]) -> Path:
    cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    cfg["scoring"] = {"chain": chain, "bundle": str(DEMO_BUNDLE)}
    cfg["sinks"] = []
    cfg["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


RUNTIMES = ("ai_edge_litert", "tflite_runtime", "onnxruntime")


def test_check_config_says_when_no_runtime_can_score_the_bundle(tmp_path):
    cfg = demo_config_with(tmp_path, ["tflite", "onnx", "numpy"])
    res = stad_agent("check-config", "-c", str(cfg), without=RUNTIMES)
    assert res.returncode == 0, res.stderr
    notes = [ln for ln in res.stderr.splitlines() if "note: scoring.bundle:" in ln]
    assert len(notes) == 1, res.stderr
    assert "numpy fallback only" in notes[0] and "tflite" in notes[0] and "onnx" in notes[0], notes


def test_no_runtime_note_while_one_runtime_of_the_chain_is_there(tmp_path):
    if importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip("ai-edge-litert is not installed here (the 'tflite' extra)")
    cfg = demo_config_with(tmp_path, ["tflite", "onnx", "numpy"])
    res = stad_agent("check-config", "-c", str(cfg), without=("onnxruntime",))
    assert res.returncode == 0, res.stderr
    assert "note: scoring.bundle:" not in res.stderr, res.stderr
