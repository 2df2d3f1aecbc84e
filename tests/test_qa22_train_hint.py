"""qa22: `stad-convert train` on a gateway config that warms up on a `;`-separated recording (read with
`warmup.replay_format`) suggests training on a copy whose source reads the recording the way the warm-up
does, and that suggested config passes `stad-agent check-config` and trains. The old suggestion was
`{type: replay, path: …}` alone: training read the recording with the replay defaults (`,`, a
`timestamp` column) and found no time column. The CLIs are the real ones: check-config as a process, train by
its main in this process (what it says is the claim: the torch import once per worker, suite9)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import convert_in_process

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
HINT = "train on them with a copy of it whose sources are "


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=900)


def test_the_suggested_training_config_reads_the_recording_as_the_warmup_does(tmp_path, capsys):
    rec = tmp_path / "recordings"
    rec.mkdir()
    (rec / "day1.csv").write_text("datetime;Pressure;Flow\n" + "".join(
        f"{1.7e9 + i:.0f};{1.5 + 0.2 * ((i * 7) % 11) / 11:.3f};{40 + (i % 9) * (1 + (i // 50) % 3):.2f}\n"
        for i in range(1500)))
    gateway = {"sensors": [{"name": s, "group": "skid1"} for s in ("PT101", "FT101")], "tick_s": 1,
               "topology": "group",
               "sources": [{"type": "modbus", "host": "127.0.0.1", "port": 5020, "registers": {"PT101": 100, "FT101": 101}}],
               "window": {"steps": 8}, "sinks": [],
               "warmup": {"ticks": 50, "replay": "recordings",
                          "replay_format": {"separator": ";", "time_column": "datetime",
                                            "columns": {"Pressure": "PT101", "Flow": "FT101"}}}}
    (tmp_path / "skid1.yaml").write_text(yaml.safe_dump(gateway))
    refused = convert_in_process(capsys, "train", "-c", str(tmp_path / "skid1.yaml"), "-o", str(tmp_path / "b"),
                                 "--epochs", "1", "--no-export", "--quiet")
    assert refused.returncode == 2, refused.stderr
    said = refused.stderr.strip()
    assert HINT in said, said
    sources = yaml.safe_load(said.split(HINT, 1)[1])
    assert sources == [{"type": "replay", "path": str(rec), "separator": ";", "time_column": "datetime",
                        "columns": {"Pressure": "PT101", "Flow": "FT101"}}], said     # old: type and path alone

    suggested = tmp_path / "train.yaml"
    suggested.write_text(yaml.safe_dump({**gateway, "sources": sources}))
    checked = _run("agent", "check-config", "-c", str(suggested))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    trained = convert_in_process(capsys, "train", "-c", str(suggested), "-o", str(tmp_path / "bundle"), "--epochs",
                                 "8", "--patience", "8", "--d-model", "16", "--heads", "2", "--ff-hidden", "16",
                                 "--no-export", "--quiet")
    assert "missing time column" not in trained.stderr, trained.stderr
    assert trained.returncode == 0, trained.stdout + trained.stderr
