"""A Modbus data type check-config does not know is answered with the width the register map leaves it (user25).

`data_types: {temp_motor: int}` on industrial.yaml's map (temp_motor at holding 104, temp_fluid at 105) was
answered "did you mean 'int32'?": the closest spelling, and a value two registers wide where the PLC holds one
(its INT is 16 bits). Now the line says `int16`, and why (register 105 is another sensor's); where both widths
fit, which register(s) each would read; a PLC's IEC names (DINT, REAL) are taken as what they mean; a misspelling
still gets its "did you mean", with the widths. check-config on the shipped config, as the CLI runs it."""
from __future__ import annotations

from pathlib import Path

import yaml

from config_mutants import check_config, runnable
from conftest import REPO

CHOICES = "must be one of 'uint16', 'int16', 'uint32', 'int32', 'float32'"


def _said(tmp_path: Path, key: str, **source) -> str:
    """check-config's line for `sources[0].data_types.<key>` on industrial.yaml with its Modbus source's keys
    updated by `source` (mappings merged)."""
    data = runnable(REPO / "configs" / "industrial.yaml", tmp_path)
    modbus = data["sources"][0]
    for name, value in source.items():
        modbus[name] = {**modbus.get(name, {}), **value}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, err = check_config(path)
    assert code == 2, err
    lines = [line for line in err.splitlines() if f"sources[0].data_types.{key}: " in line]
    assert len(lines) == 1, err
    return lines[0]


def test_int_on_a_register_whose_neighbour_is_another_sensors_is_int16_not_int32(tmp_path):
    said = _said(tmp_path, "temp_motor", data_types={"temp_motor": "int"})
    assert f"{CHOICES}, got 'int'" in said, said
    assert "in one register is 'int16'" in said and "holding register 105 is read by sensor 'temp_fluid'" in said
    assert "int32" not in said.split("got 'int'")[1], said


def test_int_where_both_widths_fit_names_the_registers_each_reads(tmp_path):
    said = _said(tmp_path, "flow", registers={"flow": 120}, data_types={"flow": "int"})
    assert ("'int16' if it is holding register 120 alone (a PLC's INT), 'int32' if registers 120..121 (a DINT)"
            in said), said


def test_a_plcs_iec_names_and_a_float_that_has_no_room(tmp_path):
    said = _said(tmp_path, "flow", registers={"flow": 120}, data_types={"flow": "DINT"})
    assert "is 'int32', holding registers 120..121 (a PLC's DINT)" in said, said
    said = _said(tmp_path, "voltage", data_types={"voltage": "real"})
    assert "is 'float32', two registers, but holding register 107 is read by sensor 'flow'" in said, said


def test_a_misspelling_gets_its_did_you_mean_and_the_widths(tmp_path):
    said = _said(tmp_path, "temp_fluid", data_types={"temp_fluid": "in16"})
    assert "(did you mean 'int16'?); 'uint16' and 'int16' read one register, 'uint32', 'int32' and 'float32' two" \
        in said, said
