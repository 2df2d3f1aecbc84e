"""A recording saved as UTF-16 (Windows PowerShell 5's `>` and `Out-File`, Excel's "Unicode text"), found by hand in
the chaos6 round. The replay read it as UTF-8, every other byte a NUL: a JSON-lines file of 100 records was 201 `bad
json` ("Expecting value", character 1) and check-config said ok; a CSV's header read as `��t i m e s t a m p` mapped
no sensor (a note; run read nothing). Now check-config and run refuse it at its key path, naming the encoding and how
to save it as UTF-8; a reader without preflight (training, evaluate) says so once per file and counts its lines, each
a reject, as before."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
import yaml

from agent.records import Rejects
from agent.sources.replay import ReplayConfig, ReplaySource
from conftest import agent_env

T0 = int(time.time()) - 300


def jsonl_text(k0: int = 0) -> str:
    return "".join(json.dumps({"ts": T0 + k, "a": k % 7}) + "\r\n" for k in range(k0, k0 + 100))


def csv_text() -> str:
    return "timestamp,a\r\n" + "".join(f"{T0 + k},{k % 7}\r\n" for k in range(100))


@pytest.mark.parametrize("name, text, encoding, said", [
    ("rec.jsonl", jsonl_text(), "utf-16", "UTF-16LE"),          # Python's utf-16: a BOM, little-endian here
    ("rec.csv", csv_text(), "utf-16", "UTF-16LE"),
    ("rec.csv", csv_text(), "utf-16-be", "UTF-16BE"),           # no BOM: told by its NULs
    ("rec.jsonl", jsonl_text(), "utf-32", "UTF-32LE"),
])
def test_check_config_and_run_refuse_a_wide_text_recording(tmp_path, name, text, encoding, said):
    (tmp_path / name).write_text(text, encoding=encoding, newline="")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a"], "sources": [{"type": "replay", "path": name, "speed": 0}],
        "window": {"steps": 8}, "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]}, "sinks": [],
        "state_dir": str(tmp_path / "state")}))
    for args in (("check-config",), ("run",)):
        res = subprocess.run([sys.executable, "-m", "agent", *args, "-c", str(path)], cwd=tmp_path, env=agent_env(),
                             capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        assert f"sources[0].path: {name} is {said} text: the replay reads UTF-8 — save it as UTF-8" in res.stderr, \
            (args, res.stderr[-2000:])


def test_a_folders_wide_text_file_is_said_once_and_its_lines_counted(tmp_path, caplog):
    (tmp_path / "a.jsonl").write_text(jsonl_text(), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(jsonl_text(100), encoding="utf-16")
    rejects = Rejects()
    source = ReplaySource(ReplayConfig(path=str(tmp_path), speed=0.0), ["a"], rejects)
    with caplog.at_level(logging.WARNING, "stad.replay"):
        records = list(source.records())
    # (its first line, the BOM's bytes ff fe, is no UTF-8: `bad payload` naming the byte, chaos8; the rest `bad json`)
    assert len(records) == 100 and set(rejects.as_dict()) == {"bad json", "bad payload"} and rejects.total >= 100
    said = [r.getMessage() for r in caplog.records if "UTF-16LE text" in r.getMessage()]
    assert said == ["b.jsonl: UTF-16LE text: the replay reads UTF-8 — save it as UTF-8 (PowerShell: `Out-File "
                    "-Encoding utf8`; Excel: \"CSV UTF-8\"), or convert it: `iconv -f UTF-16LE -t UTF-8`; its lines "
                    "are read as UTF-8 all the same, each refused and counted"]
