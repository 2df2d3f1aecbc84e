"""A matrix of config mistakes (issue 12, item 4): each one exits 2 from `check-config`, names the file
and the key path, is reported once, keeps every line short, and never prints a traceback.

`check-config` also checks what `run` needs on this machine (files, directories, secrets, the bind
address, optional extras, the bundle), and `run` refuses the same problems with exit 2.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from agent import cli

REPO = Path(__file__).resolve().parents[1]
BASE = {
    "sensors": ["a", "b"],
    "sources": [{"type": "stdin"}],
    "warmup": {"ticks": 100},
    "scoring": {"chain": ["numpy"]},
    "sinks": [{"type": "jsonl", "path": "out/alerts.jsonl"}],
    "state_dir": "state",
}


def with_(path: str, value) -> str:
    """BASE with one key (dotted path) set, as YAML."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return yaml.safe_dump(data, sort_keys=False)


def simulated(anomalies: list[dict]) -> str:
    """BASE on corridor sensors, simulated with these anomalies."""
    return yaml.safe_dump({**BASE, "sensors": ["S01_flow", "S01_speed"],
                           "sources": [{"type": "simulate", "anomalies": anomalies}]}, sort_keys=False)


def base_plus(text: str) -> str:
    return yaml.safe_dump(BASE, sort_keys=False) + textwrap.dedent(text)


BOMB = "\n".join([f'l0: &l0 ["{"x" * 40}", "{"x" * 40}", "{"x" * 40}", "{"x" * 40}", "{"x" * 40}"]']
                 + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 8)]
                 + ["sensors: *l7", "sources: [{type: stdin}]"])

# (id, config text or bytes, the key path the one problem names)
CASES = [
    ("tick-nan", with_("tick_s", float("nan")), "tick_s"),
    ("tick-inf", with_("tick_s", float("inf")), "tick_s"),
    ("tick-huge", base_plus("tick_s: 1e400\n"), "tick_s"),
    ("tick-negative", with_("tick_s", -1), "tick_s"),
    ("tick-word", with_("tick_s", "fast"), "tick_s"),
    ("tick-long-string", with_("tick_s", "x" * 1_000_000), "tick_s"),
    ("risk-nan", with_("threshold.risk", float("nan")), "threshold.risk"),
    ("risk-too-big", with_("threshold.risk", 5), "threshold.risk"),
    ("risk-too-small-exponent", base_plus("threshold: {risk: 1e-9}\n"), "threshold.risk"),
    ("threshold-method", with_("threshold.method", "gev"), "threshold.method"),
    ("steps-too-big", with_("window.steps", 5000), "window.steps"),
    ("steps-float", with_("window.steps", 2.5), "window.steps"),
    ("window-typo", with_("window.stpes", 32), "window.stpes"),
    ("carry-minus-inf", with_("window.carry_forward_s", float("-inf")), "window.carry_forward_s"),
    ("lateness-exponent", base_plus("window: {lateness_ticks: 1e3}\n"), "window.lateness_ticks"),
    ("skew-nan", with_("window.max_clock_skew_s", float("nan")), "window.max_clock_skew_s"),
    ("warmup-short", with_("warmup.ticks", 10), "warmup.ticks"),
    ("fit-fraction", with_("warmup.fit_fraction", 2), "warmup.fit_fraction"),
    ("duplicate-top-key", base_plus("tick_s: 1\ntick_s: 2\n"), "duplicate key 'tick_s'"),
    ("duplicate-nested-key", base_plus("window:\n  steps: 8\n  steps: 16\n"), "duplicate key 'steps'"),
    ("no-sensors", with_("sensors", []), "sensors"),
    ("duplicate-sensor", with_("sensors", ["a", "a"]), "sensors[1]"),
    ("sensor-number", with_("sensors", ["a", 5]), "sensors[1]"),
    ("sensor-without-name", with_("sensors", ["a", {"group": "x"}]), "sensors[1].name"),
    ("unknown-neighbour", with_("sensors", ["a", {"name": "b", "neighbours": ["zz"]}]), "sensors[1].neighbours[0]"),
    ("no-sources", with_("sources", []), "sources"),
    ("source-type", with_("sources", [{"type": "ftp"}]), "sources[0].type"),
    ("udp-port", with_("sources", [{"type": "udp", "port": 70000}]), "sources[0].port"),
    ("udp-foreign-address", with_("sources", [{"type": "udp", "bind": "203.0.113.7"}]), "sources[0].bind"),
    ("udp-unresolvable", with_("sources", [{"type": "udp", "bind": "no-such-host.invalid"}]), "sources[0].bind"),
    ("udp-datagram-small", with_("sources", [{"type": "udp", "max_datagram": 10}]), "sources[0].max_datagram"),
    ("replay-without-path", with_("sources", [{"type": "replay"}]), "sources[0].path"),
    ("replay-missing-file", with_("sources", [{"type": "replay", "path": "nowhere.csv"}]), "sources[0].path"),
    ("replay-missing-labels", with_("sources", [{"type": "replay", "path": "data.csv", "labels_file": "no.json"}]),
     "sources[0].labels_file"),
    ("replay-unknown-sensor", with_("sources", [{"type": "replay", "path": "data.csv", "columns": {"x": "zz"}}]),
     "sources[0].columns.x"),
    ("replay-format", with_("sources", [{"type": "replay", "path": "data.csv", "format": "xml"}]), "sources[0].format"),
    ("replay-speed", with_("sources", [{"type": "replay", "path": "data.csv", "speed": -1}]), "sources[0].speed"),
    ("stdin-line-limit", with_("sources", [{"type": "stdin", "max_line_bytes": 10}]), "sources[0].max_line_bytes"),
    ("mqtt-unknown-sensor", with_("sources", [{"type": "mqtt", "topics": {"t": "zz"}}]), "sources[0].topics.t"),
    ("mqtt-env-unset", with_("sources", [{"type": "mqtt", "topics": {"t": "a"},
                                          "broker": {"username": "u", "password": {"env": "STAD_TEST_NO_SUCH_VAR"}}}]),
     "sources[0].broker.password.env"),
    ("mqtt-two-secrets", with_("sources", [{"type": "mqtt", "topics": {"t": "a"},
                                            "broker": {"username": "u", "password": {"env": "X", "file": "y"}}}]),
     "sources[0].broker.password"),
    ("mqtt-qos", with_("sources", [{"type": "mqtt", "topics": {"t": "a"}, "qos": 2}]), "sources[0].qos"),
    ("mqtt-no-topics", with_("sources", [{"type": "mqtt"}]), "sources[0].topics"),
    ("mqtt-bad-filter", with_("sources", [{"type": "mqtt", "topics": {"t/#/u": "a"}}]), "sources[0].topics.t/#/u"),
    ("udp-same-port", with_("sources", [{"type": "udp", "port": 0}, {"type": "udp", "bind": "0.0.0.0", "port": 5999},
                                        {"type": "udp", "port": 5999}]), "sources[2].port"),
    ("udp-same-port-resolved", with_("sources", [{"type": "udp", "bind": "localhost", "port": 5998},
                                                 {"type": "udp", "bind": "127.0.0.1", "port": 5998}]),
     "sources[1].port"),            # as this host resolves them (preflight): run would exit 1 "in use"
    ("simulate-kind", simulated([{"kind": "meteor"}]), "sources[0].anomalies[0].kind"),
    ("simulate-incident-station", simulated([{"kind": "incident", "target": "S99"}]), "sources[0].anomalies[0].target"),
    ("simulate-scenario-sensors", with_("sources", [{"type": "simulate"}]), "sources[0].scenario"),
    ("chain-without-numpy", with_("scoring.chain", ["onnx"]), "scoring.chain"),
    ("chain-numpy-first", with_("scoring.chain", ["numpy", "onnx"]), "scoring.chain"),
    ("bundle-missing", with_("scoring.bundle", "nowhere"), "scoring.bundle"),
    ("bundle-other-sensors", with_("scoring.bundle", "builtin:demo-corridor"), "scoring.bundle"),
    ("models-dir-is-a-file", with_("scoring.models_dir", "data.csv"), "scoring.models_dir"),
    ("numpy-weight", with_("scoring.numpy.weights", {"zz": 1.0}), "scoring.numpy.weights.zz"),
    ("budget-inf", with_("scoring.latency_budget_ms", float("inf")), "scoring.latency_budget_ms"),
    ("hysteresis", with_("alerts.hysteresis", 0), "alerts.hysteresis"),
    ("top-k", with_("alerts.top_k", 100), "alerts.top_k"),
    ("jsonl-is-a-dir", with_("sinks", [{"type": "jsonl", "path": "adir"}]), "sinks[0].path"),
    ("jsonl-under-a-file", with_("sinks", [{"type": "jsonl", "path": "data.csv/x.jsonl"}]), "sinks[0].path"),
    ("mqtt-ca-missing", with_("sinks", [{"type": "mqtt", "broker": {"tls": {"ca_file": "nope.pem"}}}]),
     "sinks[0].broker.tls.ca_file"),
    ("mqtt-credential-missing", with_("sinks", [{"type": "mqtt", "broker": {"username": "u", "password": {"credential": "stad-test-no"}}}]),
     "sinks[0].broker.password.credential"),
    ("mqtt-protocol", with_("sinks", [{"type": "mqtt", "broker": {"protocol": "4"}}]), "sinks[0].broker.protocol"),
    ("sink-type", with_("sinks", [{"type": "pigeon"}]), "sinks[0].type"),
    ("state-dir-is-a-file", with_("state_dir", "data.csv"), "state_dir"),
    ("state-dir-under-a-file", with_("state_dir", "data.csv/state"), "state_dir"),
    ("log-level", with_("log_level", "loud"), "log_level"),
    ("base-dir-key", with_("base_dir", "x"), "base_dir"),
    ("node-list", with_("node", ["a"]), "node"),
    ("topology", with_("topology", "ring"), "topology"),
    ("top-level-typo", base_plus("sensor: [a]\n"), "sensor"),
    ("top-level-list", "- a\n- b\n", "<top>"),
    ("empty-file", "", "empty"),
    ("comments-only", "# nothing yet\n", "empty"),
    ("alias-bomb", BOMB, "<top>"),
    ("recursive-alias", "a: &a [*a]\nsensors: *a\nsources: [{type: stdin}]\n", "<top>"),
    ("nested-deep", "sensors: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested"),
    ("nested-40", "sensors: " + "[" * 40 + "]" * 40 + "\n", "<top>"),
    ("binary", bytes(range(256)) * 4, "not UTF-8"),
    ("nul-byte", b"sensors: [a]\x00\n", "not valid YAML"),
    ("latin-1", "sensors: [temp\xe9rature]\n".encode("latin-1"), "not UTF-8"),
    ("yaml-syntax", "sensors: [a, b\nsources: [\n", "not valid YAML"),
]


@pytest.fixture
def place(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("STAD_TEST_NO_SUCH_VAR", raising=False)
    (tmp_path / "data.csv").write_text("timestamp,a,b\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


def test_the_matrix_has_at_least_50_mistakes():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name, text, key", CASES, ids=[c[0] for c in CASES])
def test_each_mistake_exits_2_with_the_key_path_once(place, capsys, name, text, key):
    cfg = place / "agent.yaml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert cli.main(["check-config", "-c", str(cfg)]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert lines[-1] == f"{cfg}: 1 problem(s); nothing started", err[:3000]
    assert lines[0].startswith(f"{cfg}: ") and key in lines[0], lines[0][:500]
    assert all(len(line) < 1000 for line in lines)
    assert "Traceback" not in err


def test_the_base_config_and_a_yaml_12_exponent_pass(place, capsys):
    cfg = place / "agent.yaml"
    cfg.write_text(base_plus("threshold: {risk: 1e-3}\n"))
    assert cli.main(["check-config", "-c", str(cfg)]) == 0
    from agent import config
    assert config.load(cfg).threshold.risk == 0.001


def test_the_cli_never_prints_a_traceback_for_broken_files(place):
    """The same through the real command line, for the inputs that used to crash it."""
    for name, text, key in CASES:
        if name not in ("binary", "nested-deep", "alias-bomb", "latin-1"):
            continue
        cfg = place / f"{name}.yaml"
        cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
        res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(cfg)], capture_output=True,
                             text=True, timeout=60, cwd=REPO)
        assert res.returncode == 2 and key in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert len(res.stderr) < 2000


def test_a_source_whose_extra_is_missing_is_a_config_error(place):
    """pymodbus absent (a package of that name that fails to import stands in for it): exit 2, no traceback,
    from check-config and from run alike."""
    blocker = place / "no-pymodbus" / "pymodbus"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named pymodbus')\n")
    cfg = place / "agent.yaml"
    cfg.write_text(with_("sources", [{"type": "modbus", "registers": {"a": 1}}]))
    env = {**os.environ, "PYTHONPATH": f"{blocker.parent}{os.pathsep}{REPO}"}
    for command in ("check-config", "run"):
        res = subprocess.run([sys.executable, "-m", "agent", command, "-c", str(cfg)], capture_output=True,
                             text=True, timeout=60, cwd=REPO, env=env)
        assert res.returncode == 2, res.stderr[-2000:]
        assert f"{cfg}: sources[0].type: source 'modbus' cannot be used here" in res.stderr
        assert "stad-edge[modbus]" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("key, value", [("scoring.bundle", "nowhere"),
                                        ("sources", [{"type": "replay", "path": "nowhere.csv"}])])
def test_run_refuses_what_check_config_refuses_with_exit_2(place, key, value):
    """A missing bundle does not silently run numpy; a missing replay file is not exit 1."""
    cfg = place / "agent.yaml"
    data = yaml.safe_load(with_(key, value))
    data["scoring"]["chain"] = ["onnx", "numpy"]
    cfg.write_text(yaml.safe_dump(data))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg), "--max-ticks", "1"],
                         capture_output=True, text=True, timeout=60, cwd=REPO, input="")
    assert res.returncode == 2, res.stderr[-2000:]
    assert f"{cfg}: {key.split('.')[0]}" in res.stderr and "nothing started" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_credential_in_the_credential_directory_passes(place, monkeypatch, capsys):
    creds = place / "creds"
    creds.mkdir()
    (creds / "stad-test-pw").write_text("pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = place / "agent.yaml"
    cfg.write_text(with_("sinks", [{"type": "mqtt", "broker": {"username": "u", "password": {"credential": "stad-test-pw"}}}]))
    assert cli.main(["check-config", "-c", str(cfg)]) == 0, capsys.readouterr().err
