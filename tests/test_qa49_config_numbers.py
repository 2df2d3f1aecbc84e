"""A config's numbers: YAML 1.1's octal and base-60 readings refused by key path, the rest as YAML reads them (qa49).

The sources' one number rule (agent/sources/lines.py parse_number) refuses what no sender writes. A config is
written by a person and typed by YAML (PyYAML: YAML 1.1), which read `warmup: {ticks: 0300}` as octal — 192 ticks,
unsaid — and `tick_s: 1:30` as base 60, 90; a node id `0300` was refused as `got int 192`, a number the file does not
hold. YAML 1.2 reads them as 300 and as text. Now check-config and run refuse both at their key path, as written,
saying what YAML made of them and what to write. The YAML 1.1 numbers that read as their writer means stay: `1_000`
(digit grouping, 1000), `0x10` (16, YAML 1.2 too); `１２` (full-width) is text to YAML, refused as ever with the
characters as written. The real `stad-agent` on real files.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.cli import EXIT_CONFIG
from conftest import REPO, agent_env


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"""
sensors: [a, b]
sources: [{{type: stdin}}]
scoring: {{chain: [numpy]}}
state_dir: {tmp_path / 'state'}
sinks: [{{type: jsonl, path: {tmp_path / 'alerts.jsonl'}}}]
{body}""")
    return path


def agent(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, env=agent_env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_octal_and_base_60_readings_are_refused_by_key_path_by_check_config_and_run(tmp_path):
    path = config(tmp_path, """node: {id: 0300, site: plant-a}
warmup: {ticks: 0300}
tick_s: 1:30
window: {steps: １２}
""")
    for done in (agent("check-config", "-c", str(path)), agent("run", "-c", str(path), "--max-ticks", "1")):
        assert done.returncode == EXIT_CONFIG, done.stderr    # ad79f86d: 192 ticks and 90 s taken unsaid, `got int 192`
        said = done.stderr
        assert (f"{path}: warmup.ticks: expected an integer, got '0300' (YAML 1.1 reads it as octal for its leading "
                "zero, 192: write 300)") in said, said
        assert (f"{path}: tick_s: expected a number, got '1:30' (YAML 1.1 reads it as base 60, 90: write the number "
                "itself)") in said, said
        assert (f"{path}: node.id: expected a string, got '0300' (a number to YAML 1.1, octal for its leading zero, "
                "192: quote it for text)") in said, said
        assert f"{path}: window.steps: expected an integer, got str '１２'" in said, said
        assert "4 problem(s); nothing started" in said, said


def test_the_numbers_yaml_reads_as_written_are_taken(tmp_path):
    path = config(tmp_path, """node: {id: '0300', site: plant-a}
warmup: {ticks: 1_000}
window: {steps: 0x10}
tick_s: 0.5
""")
    done = agent("check-config", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "tick 0.5s, window 16 ticks" in done.stdout, done.stdout
