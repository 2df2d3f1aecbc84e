"""Poll Modbus TCP holding registers (needs the `modbus` extra: pymodbus 3.x, imported when the
source is opened, so a config naming it loads without pymodbus).

Each poll reads every configured register, as an unsigned 16-bit value times its scale. A read
the device refuses (an exception response) or answers with another number of registers than asked
for, or with another function (input registers for holding ones), is counted as 'modbus error' and
none of its values is used: a short answer cannot say which
register is missing, and zipping it onto the addresses silently dropped the last sensors.
While the device is unreachable each poll is counted as 'modbus unreachable' and the
reconnect delay doubles from poll_s up to MAX_BACKOFF_S; the outage is logged once. A connection the
device resets (a PLC rebooting, one that drops a client over its connection limit) is such an outage:
pymodbus raises the socket's ConnectionResetError as it is, and it ended the source — an agent with
no other source then stopped with exit 0, "input ended" (qa21).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import ClassVar, Iterator

from ..records import Record, Rejects
from ..plugins import Plugin
from ..typed import doc, rng
from .base import Source, SourceConfig

log = logging.getLogger("stad.modbus")

MAX_BACKOFF_S = 30.0
MAX_REGISTERS_PER_READ = 125    # the Modbus limit for one read-holding-registers request
MAX_ADDRESS = 65535             # register addresses are 16 bit
READ_HOLDING_REGISTERS = 3      # the function code of that request, and of a right answer


@dataclass
class ModbusConfig(SourceConfig):
    TYPE: ClassVar[str] = "modbus"
    endless: ClassVar[bool] = True
    host: str = doc("the Modbus TCP device's host", default="127.0.0.1")
    port: int = rng(1, 65535, default=502, doc="its port")
    unit_id: int = rng(0, 247, default=1, doc="Modbus unit (slave) id")
    # Bounded: the source waits poll_s on a threading.Event, and a wait past TIMEOUT_MAX (~292 years)
    # raised OverflowError in the source after check-config said ok (the agent then ended).
    poll_s: float = rng(0.01, 86400, default=1.0, doc="seconds between polls")
    registers: dict[str, int] = doc(
        "sensor → holding register address 0..65535 (read as unsigned 16-bit); at least one",
        default_factory=dict)
    scale: dict[str, float] = doc("sensor → multiplier applied to the register value (a sensor of `registers`)",
                                  default_factory=dict)

    def validate(self) -> list[tuple[str, str]]:
        """What the first poll would otherwise find: an address pymodbus refuses (its ValueError ended
        the source, and with it an agent with no other source, exit 0 after check-config said ok), or no
        register at all (a source that never gives a reading)."""
        if not isinstance(self.registers, dict):
            return []                       # already reported
        out = [(f"registers.{sensor}", f"a holding register address is 0..{MAX_ADDRESS}, got {address}")
               for sensor, address in self.registers.items()
               if isinstance(address, int) and not 0 <= address <= MAX_ADDRESS]
        if not self.registers:
            out.append(("registers", "at least one sensor -> register address is required"))
        return out

    def sensor_problems(self, sensors: list[str]) -> list[tuple[str, str]]:
        if not isinstance(self.registers, dict) or not isinstance(self.scale, dict):
            return []                       # already reported
        return [(f"scale.{sensor}", "no register is read for this sensor (`registers` has none): the scale would "
                                    "apply to nothing") for sensor in self.scale
                if sensor in sensors and sensor not in self.registers]     # an unknown one: said by sensor_refs

    def sensor_refs(self) -> list[tuple[str, str]]:
        return ([(f"registers.{sensor}", sensor) for sensor in self.registers]
                + [(f"scale.{sensor}", sensor) for sensor in self.scale])


class ModbusUnreachable(Exception):
    pass


class ModbusSource(Source):
    TYPE = "modbus"
    live = True

    def __init__(self, cfg: ModbusConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s)
        from pymodbus.client import ModbusTcpClient
        from pymodbus.exceptions import ModbusException
        self._modbus_errors = ModbusException
        self.where = f"modbus {cfg.host}:{cfg.port}"
        self._stop = threading.Event()
        self.client = ModbusTcpClient(cfg.host, port=cfg.port, timeout=min(3.0, max(0.2, 2 * cfg.poll_s)),
                                      retries=0)

    def records(self) -> Iterator[Record]:
        backoff = self.cfg.poll_s
        outage = False
        next_poll = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    values = self.poll()
                except ModbusUnreachable as exc:
                    # Counted directly, not via rejects.add: the outage is logged once below.
                    self.rejects.counts["modbus unreachable"] += 1
                    if not outage:
                        log.warning("%s unreachable (%s); retrying with backoff up to %.0f s",
                                    self.where, exc, MAX_BACKOFF_S)
                        outage = True
                    self.client.close()
                    if self._stop.wait(backoff):
                        return
                    backoff = min(2 * backoff, MAX_BACKOFF_S)
                    next_poll = time.monotonic()
                    continue
                if outage:
                    log.warning("%s reachable again", self.where)
                    outage = False
                backoff = self.cfg.poll_s
                if values:
                    yield Record(ts=time.time(), values=values, origin=self.where)
                next_poll += self.cfg.poll_s
                if self._stop.wait(max(0.0, next_poll - time.monotonic())):
                    return
        finally:
            self.client.close()

    def poll(self) -> dict[str, float]:
        """One reading of every register; raises ModbusUnreachable when the device is not there."""
        if not self.client.connected and not self.client.connect():
            raise ModbusUnreachable("cannot connect")
        raw: dict[int, int] = {}
        for start, count in register_spans(sorted(self.cfg.registers.values())):
            try:
                response = self.client.read_holding_registers(start, count=count, device_id=self.cfg.unit_id)
            except self._modbus_errors as exc:
                raise ModbusUnreachable(str(exc)) from None
            except OSError as exc:      # pymodbus lets a socket's own error through: a reset (a PLC rebooting)
                raise ModbusUnreachable(f"{type(exc).__name__}: {exc.strerror or exc}") from None
            if response.isError():
                self.rejects.add("modbus error", self.where,
                                 f"registers {start}..{start + count - 1}: {response}")
                continue
            if response.function_code != READ_HOLDING_REGISTERS:   # e.g. input registers (4): other values
                self.rejects.add("modbus error", self.where, f"registers {start}..{start + count - 1}: the "
                                 f"device answered function {response.function_code} to a read of holding "
                                 f"registers ({READ_HOLDING_REGISTERS}); none used")
                continue
            if len(response.registers) != count:    # a short (or long) answer: which value is whose is unknown
                self.rejects.add("modbus error", self.where, f"registers {start}..{start + count - 1}: the "
                                 f"device answered {len(response.registers)} register(s) for {count}; none used")
                continue
            raw.update(zip(range(start, start + count), response.registers))
        return {sensor: raw[address] * self.cfg.scale.get(sensor, 1.0)
                for sensor, address in self.cfg.registers.items() if address in raw}

    def close(self) -> None:
        self._stop.set()


def register_spans(addresses: list[int], max_gap: int = 8) -> list[tuple[int, int]]:
    """Sorted addresses grouped into (start, count) reads: near neighbours share one request."""
    spans: list[tuple[int, int]] = []
    for a in addresses:
        if spans:
            start, count = spans[-1]
            end = start + count - 1
            if a <= end:
                continue
            if a - end <= max_gap and a - start + 1 <= MAX_REGISTERS_PER_READ:
                spans[-1] = (start, a - start + 1)
                continue
        spans.append((a, 1))
    return spans


def _probe() -> None:
    """Imports pymodbus, or raises ImportError: check-config asks before run would open the source."""
    import pymodbus.client  # noqa: F401


PLUGIN = Plugin(config=ModbusConfig, create=ModbusSource, probe=_probe)
