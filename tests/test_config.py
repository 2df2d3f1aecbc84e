"""Config: typed, validated at load; every problem named by file and key path; exit code 2."""
import subprocess
import sys
import textwrap

import pytest

from agent import config
from agent.typed import ConfigError

GOOD = """
sensors: [S01_flow, S01_speed, S02_flow, S02_speed]
tick_s: 30
topology: corridor
sources:
  - type: replay
    path: data.csv
    columns: {a: S01_flow, b: S02_speed}
warmup: {ticks: 100}
window: {steps: 16}
"""


def write(tmp_path, text, name="agent.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def problems(tmp_path, text):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text))
    return exc.value.problems


def test_good_config_loads_typed(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.tick_s == 30.0 and isinstance(cfg.tick_s, float)
    assert cfg.sensor_names() == ["S01_flow", "S01_speed", "S02_flow", "S02_speed"]
    assert cfg.sources[0].TYPE == "replay"
    assert cfg.sources[0].columns == {"a": "S01_flow", "b": "S02_speed"}
    assert cfg.resolve("data.csv") == tmp_path / "data.csv"


def test_unknown_sensor_is_named_with_its_key_path(tmp_path):
    found = problems(tmp_path, GOOD.replace("b: S02_speed", "b: S03_sped"))
    assert found == ["sources[0].columns.b: unknown sensor 'S03_sped'"]


def test_unknown_keys_wrong_types_and_ranges_each_reported(tmp_path):
    text = GOOD.replace("window: {steps: 16}", "window: {steps: two, bogus: 1}") + "threshold: {risk: 5}\n"
    found = problems(tmp_path, text)
    assert "window.bogus: unknown key" in found
    assert "window.steps: expected an integer, got str 'two'" in found
    assert "threshold.risk: must be <= 0.2, got 5.0" in found


def test_bad_source_type_and_missing_required(tmp_path):
    found = problems(tmp_path, "sources: [{type: ftp}]\n")
    assert "sensors: required key is missing" in found
    assert any(p.startswith("sources[0].type: must be one of") for p in found)


def test_semantic_checks(tmp_path):
    text = GOOD.replace("warmup: {ticks: 100}", "warmup: {ticks: 16}") \
        .replace("[S01_flow, S01_speed", "[S01_flow, S01_flow") + "scoring: {chain: [onnx]}\n"
    found = problems(tmp_path, text)
    assert "sensors[1]: duplicate sensor 'S01_flow'" in found or any("duplicate" in p for p in found)
    assert any(p.startswith("scoring.chain: must end in 'numpy'") for p in found)


def test_yaml_syntax_error_names_line(tmp_path):
    found = problems(tmp_path, "sensors: [a, b\nsources: [\n")
    assert found and "line" in found[0] and "not valid YAML" in found[0]


def test_check_config_cli_exit_codes(tmp_path):
    good = write(tmp_path, GOOD)
    (tmp_path / "data.csv").write_text("timestamp,a,b\n")
    bad = write(tmp_path, GOOD.replace("b: S02_speed", "b: S03_sped"), "bad.yaml")
    ok = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "4 sensors" in ok.stdout
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(bad)], capture_output=True, text=True)
    assert res.returncode == 2
    assert f"{bad}: sources[0].columns.b: unknown sensor 'S03_sped'" in res.stderr
    assert "Traceback" not in res.stderr
