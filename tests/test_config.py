"""Config: typed, validated at load; every problem named by file and key path; exit code 2."""
import os
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
    assert found == ["sources[0].columns.b: unknown sensor 'S03_sped' (did you mean 'S02_speed'?)"]


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


SIMULATED = """
sensors: [S01_flow, S01_occ, S01_speed, S02_flow, S02_occ, S02_speed]
tick_s: 30
topology: corridor
sources:
  - type: simulate
    anomalies:
      - {kind: incident, at_s: 600, target: S02}
      - {kind: spike, at_s: 900, target: S01_occ}
warmup: {ticks: 100}
window: {steps: 16}
"""


def test_check_config_refuses_what_run_would_refuse_in_a_simulator(tmp_path):
    """An incident on a station the corridor does not have, and sensors the scenario cannot
    simulate: check-config says so (exit 2, key path) as `run` would."""
    assert config.load(write(tmp_path, SIMULATED)).sources[0].anomalies[0].target == "S02"
    bad = write(tmp_path, SIMULATED.replace("target: S02}", "target: S99}"), "bad.yaml")
    for command in ("check-config", "run"):
        res = subprocess.run([sys.executable, "-m", "agent", command, "-c", str(bad)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 2, res.stderr
        assert f"{bad}: sources[0].anomalies[0].target: no station 'S99' (stations: S01, S02)" in res.stderr
        assert "Traceback" not in res.stderr
    assert problems(tmp_path, SIMULATED.replace("S02_speed]", "S02_speed, pressure]")) == [
        "sources[0].scenario: sensor 'pressure' does not fit the corridor scenario: expected '<STATION>_flow', "
        "'<STATION>_occ' or '<STATION>_speed', e.g. 'S01_speed'"]


# ---- plugins: each source, sink and runtime declares its config next to its code ----------------

OPTIONAL = """
sensors: [pressure, flow]
sources:
  - {type: mqtt, broker: {host: 127.0.0.1}, topics: {plant/pressure: pressure}}
  - {type: modbus, registers: {flow: 3}}
sinks:
  - {type: mqtt, broker: {host: 127.0.0.1, username: agent, password: {env: NOPE}}}
scoring: {chain: [tflite, onnx, numpy], tflite: {num_threads: 2}, onnx: {num_threads: 3}}
"""


def test_a_config_naming_optional_plugins_loads_without_their_libraries(tmp_path):
    """paho, pymodbus, onnxruntime and ai-edge-litert are imported when the part is opened, not
    when the config is read: check-config answers on a gateway that lacks them."""
    broken = tmp_path / "broken"
    for name in ("paho", "pymodbus", "onnxruntime", "ai_edge_litert"):
        (broken / name).mkdir(parents=True)
        (broken / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    path = write(tmp_path, OPTIONAL)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(broken), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]))
    done = subprocess.run([sys.executable, "-m", "agent", "check-config", "--static", "-c", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "2 source(s)" in done.stdout and "chain tflite → onnx → numpy" in done.stdout
    # Without --static it also checks what `run` needs here: the missing extra is a config problem.
    here = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert here.returncode == 2 and "sources[1].type: source 'modbus' cannot be used here" in here.stderr


def test_plugins_are_discovered_with_their_config_classes():
    from agent.scorers import runtimes
    from agent.sinks import plugins as sink_plugins
    from agent.sources import plugins as source_plugins

    assert set(source_plugins()) == {"simulate", "replay", "udp", "stdin", "mqtt", "modbus", "opcua"}
    assert set(sink_plugins()) == {"terminal", "jsonl", "mqtt"}
    assert list(runtimes()) == ["tflite", "onnx"]          # the default chain's order
    for found in (source_plugins(), sink_plugins(), runtimes()):
        for key, plugin in found.items():
            assert plugin.config.TYPE == key
            assert plugin.config.__name__.endswith("Config")
            assert plugin.config.__name__ != getattr(plugin.create, "__name__", "")   # no name clashes
            assert plugin.config.__module__ == plugin.create.__module__              # one file per plugin
    cfg = config.from_dict({"sensors": ["a"], "sources": [{"type": "stdin"}],
                            "scoring": {"onnx": {"num_threads": 2}}})
    assert cfg.scoring.onnx.num_threads == 2 and cfg.scoring.tflite.num_threads == 1


def test_a_runtime_section_is_validated_with_its_key_path(tmp_path):
    found = problems(tmp_path, GOOD + "scoring: {onnx: {num_threads: 0, bogus: 1}, chain: [tpu, numpy]}\n")
    assert "scoring.onnx.num_threads: must be >= 1, got 0" in found
    assert "scoring.onnx.bogus: unknown key" in found
    assert "scoring.chain[0]: must be one of 'tflite', 'onnx', 'numpy', got 'tpu'" in found


def test_typos_get_a_did_you_mean_hint_for_keys_values_types_and_sensors(tmp_path):
    assert problems(tmp_path, """
        sensors: [S01_flow, S01_speed]
        tick_s: 30
        window: {stpes: 16}
        sources:
          - {type: simulat}
          - {type: simulate, sed: 3, scenario: corrdor}
          - {type: replay, path: x.csv, columns: {a: S01_sped}}
        warmup: {ticks: 100}
        """) == [
        "sources[0].type: must be one of modbus, mqtt, opcua, replay, simulate, stdin, udp, got 'simulat' "
        "(did you mean 'simulate'?)",
        "sources[1].sed: unknown key (did you mean 'seed'?)",
        "sources[1].scenario: must be one of 'corridor', 'pump', got 'corrdor' (did you mean 'corridor'?)",
        "window.stpes: unknown key (did you mean 'steps'?)",
        "sources[2].columns.a: unknown sensor 'S01_sped' (did you mean 'S01_speed'?)"]
