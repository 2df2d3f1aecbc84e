"""check-config refuses a Modbus source's types, word order and tables with key paths, exactly as `run`
refuses them (exit 2, nothing started): an unknown data type or table, a 32-bit value at 65535 (its
second register is past the table: pymodbus refuses the read at the first poll), two sensors reading
one register (each decodes the other's bytes), a type or table for a sensor no register is read for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from config_mutants import check_config, runnable
from conftest import REPO, agent_env

#: what the industrial config's Modbus source is given → what check-config and run say about it
WRONG = {
    "data_types": {"flow": "float64", "accel1": "uint32", "voltage": "float32", "ghost": "int16"},
    "registers": {"voltage": 65535},
    "word_order": "BADC",
    "tables": {"current": "coils"},
}
SAID = [
    "sources[0].data_types.flow: must be one of 'uint16', 'int16', 'uint32', 'int32', 'float32', got 'float64'",
    "sources[0].word_order: must be one of 'ABCD', 'CDAB', got 'BADC'",
    "sources[0].tables.current: must be one of 'holding', 'input', got 'coils'",
    "sources[0].registers.voltage: a float32 spans two registers: its holding register address is 0..65534, got 65535",
    "sources[0].registers.accel2: reads holding register 101, which sensor 'accel1' reads (holding registers "
    "100..101): each register is one sensor's",
    "sources[0].data_types.ghost: unknown sensor 'ghost'",
]


def _industrial(tmp_path: Path, **source) -> Path:
    """configs/industrial.yaml, runnable here, its Modbus source's keys updated by `source` (a mapping
    merged into the source's mapping of that key)."""
    data = runnable(REPO / "configs" / "industrial.yaml", tmp_path)
    modbus = data["sources"][0]
    for key, value in source.items():
        modbus[key] = {**modbus[key], **value} if isinstance(modbus.get(key), dict) else value
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_check_config_and_run_refuse_the_same_with_key_paths(tmp_path):
    path = _industrial(tmp_path, **WRONG)
    code, err = check_config(path)
    assert code == 2 and f"{len(SAID)} problem(s)" in err, err
    for said in SAID:
        assert said in err, said
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(path)], capture_output=True, text=True,
                         cwd=tmp_path, env=agent_env(), timeout=300)
    assert res.returncode == 2 and "nothing started" in res.stderr, res.stderr[-3000:]
    for said in SAID:
        assert said in res.stderr, said


def test_two_sensors_on_one_register_and_a_type_for_no_register_are_refused(tmp_path):
    code, err = check_config(_industrial(tmp_path, registers={"accel2": 100}))
    assert code == 2 and "sources[0].registers.accel2: reads holding register 100, which sensor 'accel1' reads " \
                         "(holding register 100): each register is one sensor's" in err, err
    data = runnable(REPO / "configs" / "industrial.yaml", tmp_path)
    del data["sources"][0]["registers"]["flow"], data["sources"][0]["scale"]["flow"]
    data["sources"][0].update(data_types={"flow": "int16"}, tables={"flow": "input"})
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(data))
    code, err = check_config(tmp_path / "agent.yaml")
    assert code == 2 and "2 problem(s)" in err, err
    assert "sources[0].data_types.flow: no register is read for this sensor" in err, err
    assert "sources[0].tables.flow: no register is read for this sensor" in err, err


def test_what_a_device_can_hold_passes(tmp_path):
    # The last two registers for a 32-bit value; one address in both tables (two registers, two values);
    # a word order and a source-wide input table.
    code, err = check_config(_industrial(tmp_path, registers={"flow": 65534}, data_types={"flow": "int32"},
                                         word_order="CDAB", table="input"))
    assert code == 0, err
    code, err = check_config(_industrial(tmp_path, registers={"accel2": 100}, tables={"accel2": "input"}))
    assert code == 0, err


def test_every_sensor_on_a_register_another_reads_is_named():
    # c at 11 overlaps a (10..11), not b (10) just before it: comparing each with its neighbour alone missed it.
    from agent.sources.modbus import ModbusConfig
    cfg = ModbusConfig(registers={"a": 10, "b": 10, "c": 11, "d": 12, "e": 11}, data_types={"a": "float32"},
                       tables={"e": "input"})
    assert cfg.validate() == [
        ("registers.b", "reads holding register 10, which sensor 'a' reads (holding registers 10..11): each "
                        "register is one sensor's"),
        ("registers.c", "reads holding register 11, which sensor 'a' reads (holding registers 10..11): each "
                        "register is one sensor's")]
