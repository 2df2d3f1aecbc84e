"""An MQTT sink whose topics, `<prefix>/<site>/<node>/…`, are longer than MQTT carries (a topic is an MQTT string:
65,535 bytes at most) is refused at `sinks[i].prefix` by check-config and `run` alike (review40; review39 left it).
Before, check-config said ok and paho packed the CONNECT's Last Will topic (`…/status`) with a struct error raised in
its network thread, which then ended: the sink never connected, said no outage, and every alert waited in the outbox
for good. The bound is the whole topic's: a prefix that fits alone can be pushed past it by node.site and node.id.
Real parts: check-config in-process and `stad-agent run` as a process, on real config files."""
from __future__ import annotations

import subprocess
import sys

import yaml

from config_mutants import check_config
from conftest import agent_env
from small_config import small_config

LONGEST_LEAF = "/feedback/result"       # the longest topic the sink publishes ends so


def _with_sink(tmp_path, prefix: str, node_id: str = "t", site: str = "default"):
    f = small_config(tmp_path, {"type": "simulate", "duration_s": 60}, ["S01_flow", "S01_occ", "S01_speed"])
    data = yaml.safe_load(f.read_text())
    data["node"] = {"id": node_id, "site": site}
    data["sinks"] = [{"type": "mqtt", "prefix": prefix, "broker": {"host": "127.0.0.1", "port": 1883}}]
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


def test_a_prefix_mqtt_cannot_carry_is_refused_at_its_key(tmp_path):
    code, err = check_config(_with_sink(tmp_path, "p" * 70_000))
    assert code == 2 and "sinks[0].prefix" in err and "too long for MQTT" in err and "prefix 70,000" in err, err


def test_a_prefix_that_fits_alone_is_refused_with_a_node_id_that_takes_it_past_the_bound(tmp_path):
    code, err = check_config(_with_sink(tmp_path, "p" * 65_480, node_id="gateway-" + "n" * 40))
    assert code == 2 and "sinks[0].prefix" in err and "node.id 48" in err, err


def test_the_longest_topic_mqtt_carries_is_taken(tmp_path):
    site, node = "default", "t"
    room = 65_535 - len(f"/{site}/{node}{LONGEST_LEAF}")
    code, err = check_config(_with_sink(tmp_path, "p" * room, node_id=node, site=site))
    assert code == 0 and "prefix" not in err, err
    code, err = check_config(_with_sink(tmp_path, "p" * (room + 1), node_id=node, site=site))
    assert code == 2 and "65,536 bytes" in err, err


def test_run_refuses_it_before_starting_anything(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(_with_sink(tmp_path, "p" * 70_000))],
                          cwd=tmp_path, env=agent_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "sinks[0].prefix" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "state").exists(), "nothing is started for a config refused"
