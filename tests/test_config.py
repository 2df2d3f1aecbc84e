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
    assert "window.bogus: unknown key (keys of window: steps, carry_forward_s, lateness_ticks, idle_flush_s, " \
           "max_clock_skew_s)" in found
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


LOAD_AND_LIST = """
import sys
from agent import config
from agent.typed import ConfigError
try:
    config.from_dict({"sensors": ["a"], "sources": [{"type": sys.argv[1]}], "sinks": [{"type": sys.argv[2]}]})
except ConfigError as exc:
    print("|".join(exc.problems))
print(" ".join(sorted(m for m in sys.modules if m.startswith(("agent.sources.", "agent.sinks.")))))
"""


def load_and_list(source: str, sink: str) -> tuple[str, set[str]]:
    """A fresh process builds a config naming `source` and `sink`: its problems, and the plugin modules it loaded."""
    done = subprocess.run([sys.executable, "-c", LOAD_AND_LIST, source, sink], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    *said, modules = done.stdout.splitlines()
    return "".join(said), set(modules.split())


def test_a_config_imports_the_plugins_it_names_and_no_other():
    said, loaded = load_and_list("stdin", "terminal")
    assert said == ""
    assert {"agent.sources.stdin", "agent.sinks.terminal"} <= loaded
    assert not {"agent.sources.mqtt", "agent.sources.modbus", "agent.sources.opcua", "agent.sources.udp",
                "agent.sinks.mqtt"} & loaded


@pytest.mark.parametrize("source, sink", [("simulat", "jsonl"), ("base", "jsonl"), ("opcua_session", "jsonl"),
                                          ("_private", "Terminal"), ("a.b", "mqtt ")])
def test_an_unknown_type_lists_every_known_one(source, sink):
    """A type that names no plugin module (a typo; a helper module of the package that declares no PLUGIN; no
    module name at all) is refused at its key path with the whole list, which discovery imports to say it."""
    said, loaded = load_and_list(source, sink)
    problems = said.split("|")
    assert problems[0].startswith(f"sources[0].type: must be one of modbus, mqtt, opcua, replay, simulate, stdin, "
                                  f"udp, got {source!r}"), problems
    if sink == "jsonl":
        assert len(problems) == 1 and "agent.sources.opcua" in loaded, problems    # the list: every source imported
    else:
        assert len(problems) == 2 and problems[1].startswith(
            f"sinks[0].type: must be one of jsonl, mqtt, terminal, got {sink!r}"), problems
        assert {"agent.sources.opcua", "agent.sinks.mqtt"} <= loaded


def test_a_plugin_whose_type_is_not_its_module_name_is_refused(tmp_path, monkeypatch):
    """`find` imports the module a config's `type` names: a plugin declaring another TYPE could never be found
    by it, so discovery refuses it by name."""
    from agent.plugins import discover, find
    pkg = tmp_path / "perf64_plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass
        from typing import ClassVar
        from agent.plugins import Plugin

        @dataclass
        class GoodConfig:
            TYPE: ClassVar[str] = "good"

        PLUGIN = Plugin(config=GoodConfig, create=GoodConfig)
    """))
    (pkg / "helper.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert find("perf64_plugins", "good").type == "good"
    assert find("perf64_plugins", "helper") is None and find("perf64_plugins", "missing") is None
    assert list(discover("perf64_plugins")) == ["good"]
    (pkg / "renamed.py").write_text((pkg / "good.py").read_text().replace('TYPE: ClassVar[str] = "good"',
                                                                          'TYPE: ClassVar[str] = "other"'))
    with pytest.raises(TypeError, match=r"perf64_plugins\.renamed: PLUGIN's type 'other' is not the module's name"):
        find("perf64_plugins", "renamed")
    discover.cache_clear()
    try:
        with pytest.raises(TypeError, match="is not the module's name"):
            discover("perf64_plugins")
    finally:
        discover.cache_clear()


def test_every_shipped_plugin_is_named_as_its_module():
    from agent.plugins import discover
    for package in ("agent.sources", "agent.sinks", "agent.scorers"):
        for key, plugin in discover(package).items():
            assert plugin.config.__module__ == f"{package}.{key}"


def test_a_runtime_section_is_validated_with_its_key_path(tmp_path):
    found = problems(tmp_path, GOOD + "scoring: {onnx: {num_threads: 0, bogus: 1}, chain: [tpu, numpy]}\n")
    assert "scoring.onnx.num_threads: must be >= 1, got 0" in found
    assert "scoring.onnx.bogus: unknown key (keys of scoring.onnx: num_threads)" in found
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
