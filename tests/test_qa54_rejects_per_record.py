"""qa54 (qa53's left item): rejects are counted per record. The aligner counted its reasons per value — a record of
three sensors sent twice was 3 `repeated reading`s, one with two NaN readings 2 `non-finite value`s — while the
sources count per record (a line, a datagram, a message: `bad json`, `bad number` once however many fields) and the
stop summary puts the count beside `records in`: "5 records in, rejected 10" read as more rejects than records.
Now each reason is counted once for each record any of its readings met (its other readings used), everywhere.

The real `stad-agent run` fed JSON lines on stdin, stamped with this host's clock as a live sender stamps them."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO, agent_env


def test_a_record_counts_once_under_each_reason_its_readings_met(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": ["a", "b", "c"], "tick_s": 30, "sources": [{"type": "stdin"}],
                                   "scoring": {"chain": ["numpy"]}, "sinks": [],
                                   "state_dir": str(tmp_path / "state")}))
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, env=agent_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        t1 = math.floor(time.time() / 30) * 30 + 1.0        # in this tick, a stamp a live sender could give it
        first = {"ts": t1, "a": 1.0, "b": 2.0, "c": 3.0}
        lines = [first, first,                                          # the same record again: repeated reading
                 {"ts": t1 + 0.5, "a": 4.0, "b": 5.0, "c": 6.0},         # a second reading of all three: duplicate
                 {"ts": t1 + 30, "a": "NaN", "b": "NaN", "c": 1.0},      # two NaN readings: non-finite value
                 {"ts": t1 + 30.5, "x": 1.0, "y": 2.0, "b": 5.0}]        # two sensors not configured: unknown sensor
        out, err = proc.communicate("".join(json.dumps(line) + "\n" for line in lines), timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    summary = next(line for line in err.splitlines() if "summary:" in line)
    # on 7b3e1fff: "5 records in, rejected 10 (duplicate: 3, non-finite value: 2, repeated reading: 3, unknown
    # sensor: 2)"
    assert "5 records in, rejected 4 (duplicate: 1, non-finite value: 1, repeated reading: 1, unknown sensor: 1)" \
        in summary, err[-3000:]
    said = [line for line in err.splitlines() if "rejected stdin" in line or "rejected udp" in line
            or "stad.input" in line]
    assert any("non-finite value — sensor 'a' value nan; sensor 'b' value nan" in line for line in said), said
    assert any("unknown sensor — sensor 'x' value 1.0; sensor 'y' value 2.0" in line for line in said), said
    assert any("duplicate — sensors 'a', 'b', 'c' already have a value at tick" in line for line in said), said


def test_a_modbus_poll_counts_once_however_many_of_its_registers_read_nan():
    """A poll is the Modbus source's record: two float32 registers reading NaN in it (a device's "no reading") were
    two `non-finite value`s a poll, as the aligner counted a record's values; now one, both named."""
    pytest.importorskip("pymodbus")
    from modbus_device import ModbusServer, at, read, words
    with ModbusServer(at(40, words(">f", math.nan)) | at(42, words(">f", math.inf)) | at(44, [5])) as device:
        got, rejects = read(device.port, ["flow", "level", "ok"], polls=3, registers={"flow": 40, "level": 42,
                                                                                       "ok": 44},
                            data_types={"flow": "float32", "level": "float32"})
    assert got == [{"ok": 5.0}] * 3
    # on 7b3e1fff: 6, and the first said only flow
    assert rejects.as_dict() == {"non-finite value": 3}, rejects.as_dict()
    where, detail = rejects.first["non-finite value"]
    assert where == f"modbus 127.0.0.1:{device.port}"
    assert detail == ("flow: float32 at holding registers 40..41 reads nan; level: float32 at holding registers 42..43 "
                      "reads inf; not used"), detail
