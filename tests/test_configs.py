"""Every shipped config passes `stad-agent check-config`; a broken one exits 2 naming each key path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent import config
from agent.sources.simulate_plants import PUMP_SENSORS

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
STATE = "/var/lib/stad-edge"


def check_config(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(path), *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_the_gateway_configs_are_there():
    names = {p.name for p in CONFIGS}
    assert {"roadside.yaml", "industrial.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_passes_check_config(path):
    # --static: the gateway configs name files and credentials that exist on a gateway, not here.
    res = check_config(path, "--static")
    assert res.returncode == 0, res.stderr
    assert f"{path}: ok" in res.stdout


def test_bad_config_exits_2_with_every_key_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("""\
tick_s: 30
topology: corridor
sensors: [K1_flow, K1_occ]
sources:
  - type: udp
    bind: 127.0.0.1
    port: 70000
window:
  stpes: 32
sinks:
  - type: mqtt
    broker:
      host: broker.example.net
      username: gw
      password: {credential: stad-edge.mqtt-password, env: MQTT_PASSWORD}
      tls: {ca_flie: /etc/stad-edge/ca.pem}
""")
    res = check_config(bad)
    assert res.returncode == 2
    problems = [line.split(": ", 1)[1] for line in res.stderr.splitlines() if line.startswith(f"{bad}: ")]
    paths = {p.split(":", 1)[0] for p in problems}
    assert {"sources[0].port", "window.stpes", "sinks[0].broker.password", "sinks[0].broker.tls.ca_flie"} <= paths
    assert "4 problem(s); nothing started" in res.stderr
    assert res.stdout == ""


def _gateway_paths_are_in_the_state_dir(cfg) -> None:
    """Under ProtectSystem=strict only StateDirectory= (/var/lib/stad-edge) is writable."""
    assert cfg.state_dir == STATE
    for sink in cfg.sinks:
        if sink.TYPE == "jsonl":
            assert sink.path.startswith(STATE + "/"), sink.path
    if cfg.scoring.models_dir:
        assert cfg.scoring.models_dir.startswith(STATE + "/")


def test_roadside_is_a_udp_fed_corridor_with_tls_mqtt():
    cfg = config.load(REPO / "configs" / "roadside.yaml")
    assert cfg.topology == "corridor" and cfg.tick_s == 30
    stations = []
    for name in cfg.sensor_names():
        station, measure = name.split("_")
        assert measure in ("flow", "occ", "speed")
        if station not in stations:
            stations.append(station)
    assert len(stations) >= 3 and len(cfg.sensor_names()) == 3 * len(stations)
    (src,) = cfg.sources
    assert src.TYPE == "udp" and src.bind == "127.0.0.1"
    assert cfg.window.lateness_ticks == 1 and cfg.window.idle_flush_s > 0
    mqtt = [s for s in cfg.sinks if s.TYPE == "mqtt"]
    assert len(mqtt) == 1
    broker = mqtt[0].broker
    assert broker.tls is not None and broker.tls.ca_file and not broker.tls.insecure_skip_verify
    # Both secrets come from the unit's LoadCredential= names, never from the YAML.
    assert broker.password.credential == "stad-edge.mqtt-password"
    assert broker.tls.key_file == "stad-edge.tls-key"
    _gateway_paths_are_in_the_state_dir(cfg)


def test_industrial_is_a_skab_like_pump_skid():
    cfg = config.load(REPO / "configs" / "industrial.yaml")
    assert cfg.topology == "group" and cfg.tick_s == 1
    assert sorted(cfg.sensor_names()) == sorted(PUMP_SENSORS)
    assert len({s.group for s in cfg.sensor_specs()}) == 1     # one skid: all neighbours of each other
    (src,) = cfg.sources
    assert src.TYPE in ("modbus", "mqtt")
    if src.TYPE == "modbus":
        assert set(src.registers) == set(PUMP_SENSORS)
    assert [s.TYPE for s in cfg.sinks if s.TYPE == "mqtt"] == ["mqtt"]
    assert next(s for s in cfg.sinks if s.TYPE == "mqtt").broker.password.credential == "stad-edge.mqtt-password"
    _gateway_paths_are_in_the_state_dir(cfg)
