"""user25: Modbus polls at poll_s = tick_s are taken mid-tick, one a tick, so a poll a little late on a busy
gateway still lands in its own tick.

Before, polls were phased by the agent's start: the shipped industrial.yaml (poll_s 1, tick_s 1) on a gateway at
load 9 put two polls into one tick twice in 323 polls (5 min) — the second rejected `duplicate` with advice to change
tick_s, and the next tick carried forward. `poll_at` (agent/sources/modbus.py) is checked on the cases that matter
(on time, late within the tick, late past it, this host's clock stepped back), then a source reading a real Modbus
TCP server stamps each poll in a tick of its own."""
from __future__ import annotations

import math

import pytest

from agent.records import Rejects
from modbus_device import ModbusServer


def test_poll_at_waits_for_the_next_period_middle_and_never_polls_one_period_twice():
    from agent.sources.modbus import poll_at
    assert poll_at(100.98, 1.0, None) == (0.0, 100)                 # the first poll (or a reconnect's): at once
    wait, period = poll_at(100.985, 1.0, 100)                        # just polled at 100.98: the next at 101.5
    assert period == 101 and wait == pytest.approx(0.515)
    assert poll_at(101.7, 1.0, 100) == (0.0, 101)                    # woke late within 101: polled now, in 101
    wait, period = poll_at(101.71, 1.0, 101)
    assert period == 102 and wait == pytest.approx(0.79)             # not again in 101
    assert poll_at(104.2, 1.0, 101)[1] == 104                        # overslept: the period it is in
    wait, period = poll_at(50.0, 1.0, 101)                          # the clock stepped back: its grid again
    assert period == 50 and wait == pytest.approx(0.5)
    wait, period = poll_at(10.01, 0.2, 49)                           # 10.01 is in period 50 of 0.2 s
    assert period == 50 and wait == pytest.approx(0.09)


def test_a_source_on_a_real_modbus_server_stamps_one_poll_a_period():
    pytest.importorskip("pymodbus")
    from agent.sources.modbus import ModbusConfig, ModbusSource
    with ModbusServer({100: 7, 101: 8}) as plc:
        source = ModbusSource(ModbusConfig(host="127.0.0.1", port=plc.port, poll_s=0.2, registers={"a": 100, "b": 101}),
                              ["a", "b"], Rejects())
        records = source.records()
        try:
            got = [next(records) for _ in range(8)]
        finally:
            source.close()
            list(records)
    assert all(r.values == {"a": 7.0, "b": 8.0} for r in got)
    periods = [math.floor(r.ts / 0.2) for r in got]
    assert periods == sorted(set(periods)), periods                  # never two polls in one period
