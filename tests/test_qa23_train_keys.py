"""qa23: a successful `stad-convert train` prints the keys a gateway config needs to score with the new
bundle — `scoring.bundle` and the warm-up on the recordings it was trained on, read as training read
them (`warmup.replay_format`) — built the other way round from the refusal's suggestion
(convert/data.py warmup_as_source), with the same format keys. Before, the README said which keys to
set and the integrator wrote them by hand. The printed keys, put into a gateway config whose source is
live (Modbus: no replay source to take the format from), pass `stad-agent check-config`. The CLIs are
the real ones: check-config as a process, train by its own main in this process (what it prints is the claim: the
torch import once per worker, suite9); the recording a real CSV file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agent.bundle import read_manifest
from agent.config import from_dict, load
from convert.cli import GATEWAY_KEYS
from convert.data import gateway_keys
from conftest import convert_in_process

REPO = Path(__file__).resolve().parent.parent
SENSORS = [{"name": s, "group": "skid1"} for s in ("PT101", "FT101")]
SKID = {"separator": ";", "time_column": "datetime", "columns": {"Pressure": "PT101", "Flow": "FT101"}}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=1200)


def _recordings(tmp_path: Path) -> Path:
    rec = tmp_path / "recordings"
    rec.mkdir()
    (rec / "day1.csv").write_text("datetime;Pressure;Flow\n" + "".join(
        f"{1.7e9 + i:.0f};{1.5 + 0.2 * ((i * 7) % 11) / 11:.3f};{40 + (i % 9) * (1 + (i // 50) % 3):.2f}\n"
        for i in range(1500)))
    return rec


def _training(rec: Path) -> dict:
    return {"sensors": SENSORS, "tick_s": 1, "topology": "group", "window": {"steps": 8}, "sinks": [],
            "sources": [{"type": "replay", "path": str(rec), **SKID}], "warmup": {"ticks": 50}}


def _gateway(keys: dict) -> dict:
    """A gateway's config on a live source, with the printed keys."""
    return {"sensors": SENSORS, "tick_s": 1, "topology": "group", "window": {"steps": 8}, "sinks": [],
            "sources": [{"type": "modbus", "host": "127.0.0.1", "port": 5020, "registers": {"PT101": 100, "FT101": 101}}],
            **keys}


def test_the_keys_name_the_recordings_and_how_they_were_read(tmp_path):
    rec = _recordings(tmp_path)
    bundle = tmp_path / "b"
    keys = yaml.safe_load(gateway_keys(from_dict(_training(rec), base_dir=str(tmp_path)), bundle))
    assert keys == {"scoring": {"bundle": str(bundle)},
                    "warmup": {"ticks": 50, "replay": str(rec), "replay_format": SKID}}
    # a config that names its recordings in warmup.replay (read with its replay_format): those
    gateway = from_dict(_gateway({"warmup": {"ticks": 60, "replay": "recordings", "replay_format": SKID}}),
                        base_dir=str(tmp_path))
    keys = yaml.safe_load(gateway_keys(gateway, bundle))
    assert keys["warmup"] == {"ticks": 60, "replay": str(rec), "replay_format": SKID}
    # recordings in the replay defaults' form need no format keys
    plain = from_dict({**_training(rec), "sources": [{"type": "replay", "path": str(rec)}]}, base_dir=str(tmp_path))
    assert yaml.safe_load(gateway_keys(plain, bundle))["warmup"] == {"ticks": 50, "replay": str(rec)}
    # no recordings (a simulator): the warm-up is live ticks
    sim = load(str(REPO / "configs" / "demo.yaml"))
    assert yaml.safe_load(gateway_keys(sim, bundle)) == {"scoring": {"bundle": str(bundle)},
                                                         "warmup": {"ticks": sim.warmup.ticks}}


def test_a_successful_train_prints_gateway_keys_that_pass_check_config(tmp_path, capsys):
    pytest.importorskip("torch")
    rec = _recordings(tmp_path)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(_training(rec)))
    out = tmp_path / "bundles" / "skid1"
    trained = convert_in_process(capsys, "train", "-c", str(tmp_path / "train.yaml"), "-o", str(out), "--epochs", "8",
                                 "--patience", "8", "--d-model", "16", "--heads", "2", "--ff-hidden", "16",
                                 "--threads", "1", "--min-agreement", "0", "--quiet", "--only", "onnx_fp32")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert trained.stdout.count(GATEWAY_KEYS) == 1, trained.stdout
    keys = yaml.safe_load(trained.stdout.split(GATEWAY_KEYS, 1)[1])
    assert keys == {"scoring": {"bundle": str(out)}, "warmup": {"ticks": 50, "replay": str(rec), "replay_format": SKID}}
    # `--only onnx_fp32`: the one artifact the claim needs (all four cost 20 CPU-s instead of 5, suite3)
    assert list(read_manifest(out).artifacts) == ["onnx_fp32"]

    gateway = tmp_path / "gateway" / "skid1.yaml"          # elsewhere: the printed paths are absolute
    gateway.parent.mkdir()
    gateway.write_text(yaml.safe_dump(_gateway(keys)))
    checked = _run("agent", "check-config", "-c", str(gateway))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "skid1" in checked.stdout + checked.stderr       # the bundle was loaded and named


def test_a_train_without_export_prints_no_keys(tmp_path, capsys):
    """--no-export: no artifact the agent could run; the keys are for a bundle a gateway runs (one whose int8 parity
    failed exits 1 and prints them after saying what runs instead: tests/test_user29_failed_parity_keys.py)."""
    pytest.importorskip("torch")
    rec = _recordings(tmp_path)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(_training(rec)))
    trained = convert_in_process(capsys, "train", "-c", str(tmp_path / "train.yaml"), "-o", str(tmp_path / "b"),
                                 "--epochs", "8", "--patience", "8", "--d-model", "16", "--heads", "2", "--ff-hidden",
                                 "16", "--threads", "1", "--no-export", "--quiet")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert GATEWAY_KEYS not in trained.stdout
