"""An MQTT string past 65,535 bytes (a client id, a user name, a password: a password file pointed at a CA bundle)
is refused at its key by check-config (review39). paho packed it with a struct error raised in its network thread,
which then ended without a word: the sink never connected, said no outage, and every alert waited in the outbox for
good. Real parts: check-config in-process on real files; `run` refuses a credential check-config could not read
(agent/mqtt_client.py build_client)."""
from __future__ import annotations

import yaml

from config_mutants import check_config
from small_config import small_config

BIG = 70_000


def _with_sink(tmp_path, broker: dict):
    f = small_config(tmp_path, {"type": "simulate", "duration_s": 60}, ["S01_flow", "S01_occ", "S01_speed"])
    data = yaml.safe_load(f.read_text())
    data["sinks"] = [{"type": "mqtt", "broker": {"host": "127.0.0.1", "port": 1883, **broker}}]
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


def test_a_password_file_mqtt_cannot_carry_is_refused_at_its_key(tmp_path):
    (tmp_path / "password").write_text("x" * BIG + "\n")
    code, err = check_config(_with_sink(tmp_path, {"username": "stad", "password": {"file": "password"}}))
    assert code == 2 and "sinks[0].broker.password.file" in err and "70,000 bytes" in err, err


def test_a_client_id_and_user_name_mqtt_cannot_carry_are_refused_at_their_keys(tmp_path):
    code, err = check_config(_with_sink(tmp_path, {"client_id": "c" * BIG, "username": "u" * BIG}))
    assert code == 2 and "sinks[0].broker.client_id" in err and "sinks[0].broker.username" in err, err


def test_the_longest_password_is_taken(tmp_path):
    (tmp_path / "password").write_text("x" * 65_535 + "\n")
    code, err = check_config(_with_sink(tmp_path, {"username": "stad", "password": {"file": "password"}}))
    assert "password" not in err, err
