"""Poll Modbus TCP holding or input registers (needs the `modbus` extra: pymodbus 3.x, imported when the
source is opened, so a config naming it loads without pymodbus).

Each poll reads every configured register and decodes it as its sensor's data type, times its scale (an
integer register's product rounded to the scale's decimals: 3841 × 0.01 is 38.41, not 38.410000000000004, qa53).
The default, one unsigned 16-bit holding register, is what the source always read; real PLCs and
meters also hold a -5.0 °C temperature as a signed int16 (read unsigned it was 6548.6 with scale 0.1,
a huge false incident), flows and energies as 32-bit integers or IEEE float32 across two registers
(high word first, "ABCD", or word-swapped, "CDAB": both are common, so the order is the source's,
as one device keeps one), and many values in input registers (function 4) rather than holding ones
(function 3): `data_types`, `word_order` and `table`/`tables` say which. The two tables are read with
separate requests, and a two-register value always within one read. A float32 that decodes to NaN or
infinity (a device's "no reading") is counted as 'non-finite value' naming the sensor and register,
and not passed on. check-config refuses what a poll could not read: an address past the table (a
32-bit value at 65535), and two sensors on one register (one of them reads the other's bytes).

A read the device refuses (an exception response) or answers with another number of registers than asked
for, or with another function (input registers for holding ones), is counted as 'modbus error' and
none of its values is used: a short answer cannot say which
register is missing, and zipping it onto the addresses silently dropped the last sensors. Near registers share one
read (`register_spans`), gaps between them included: a read shared by several sensors that the device refuses as covering
a register it does not have (exception 2, illegal data address: a PLC whose map has a gap, or lacks one sensor's
register) is split into each sensor's own, said once, for as long as the source runs — it was refused at every poll,
no sensor of it ever read (review38: across a gap, split at once; review40: one wrong register among adjacent ones,
split when refused at two polls in a row — a device that refuses a read now and then is not split for it).
While the device is unreachable each poll is counted as 'modbus unreachable' and the
reconnect delay doubles from poll_s up to MAX_BACKOFF_S; the outage is logged once, in our words (closed,
refused, no answer in time: modbus_words.py), pymodbus's own at debug. A connection the
device resets (a PLC rebooting, one that drops a client over its connection limit) is such an outage:
pymodbus raises the socket's ConnectionResetError as it is, and it ended the source — an agent with
no other source then stopped with exit 0, "input ended" (qa21).

Polls are taken at the middle of each `poll_s` period of this host's clock, at most one a period (`poll_at`):
a poll is stamped when it is read, and the aligner puts it in the tick of that stamp. Phased by when the agent
started, as they were, polls at `poll_s` = `tick_s` sat anywhere in the tick — polls phased near a tick's end and one
a little late on a busy gateway put two readings in one tick (the second rejected `duplicate`, with
advice to change `tick_s`) and none in the next (user25: 2 of 323 polls in 5 min at load 9). At mid-period a
poll may be up to half a period late and still land in its own tick; one later than that is taken at once for
the period it is in, never twice in one (the next poll is for the period after the one the last was stamped in).
"""
from __future__ import annotations

import logging
import math
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Literal, NamedTuple

from ..records import Record, Rejects
from ..plugins import Plugin
from ..typed import doc, rng
from .base import Source, SourceConfig
from .modbus_types import scale_places, unknown_type
from .modbus_words import connect_failure, exception_said, read_failure

log = logging.getLogger("stad.modbus")

MAX_BACKOFF_S = 30.0
MAX_REGISTERS_PER_READ = 125    # the Modbus limit for one read-holding/input-registers request
MAX_ADDRESS = 65535             # register addresses are 16 bit
FUNCTION = {"holding": 3, "input": 4}   # the function code of a table's read, and of a right answer
ILLEGAL_ADDRESS = 2             # the exception code of a read covering a register the device does not have

Table = Literal["holding", "input"]
#: data type → (registers it spans, its big-endian struct format)
LAYOUT = {"uint16": (1, ">H"), "int16": (1, ">h"), "uint32": (2, ">I"), "int32": (2, ">i"), "float32": (2, ">f")}


class Field(NamedTuple):
    """Where one sensor's value is and how it is read."""
    sensor: str
    table: str
    address: int
    data_type: str

    @property
    def width(self) -> int:
        return LAYOUT[self.data_type][0]

    @property
    def last(self) -> int:
        return self.address + self.width - 1

    def where(self) -> str:
        """'holding register 7', 'input registers 10..11'."""
        return f"{self.table} register {self.address}" if self.width == 1 \
            else f"{self.table} registers {self.address}..{self.last}"


@dataclass
class ModbusConfig(SourceConfig):
    TYPE: ClassVar[str] = "modbus"
    endless: ClassVar[bool] = True
    host: str = doc("the Modbus TCP device's host", default="127.0.0.1")
    port: int = rng(1, 65535, default=502, doc="its port")
    unit_id: int = rng(0, 247, default=1, doc="Modbus unit (slave) id")
    # Bounded: the source waits poll_s on a threading.Event, and a wait past TIMEOUT_MAX (~292 years)
    # raised OverflowError in the source after check-config said ok (the agent then ended).
    poll_s: float = rng(0.01, 86400, default=1.0, doc="seconds between polls, each taken at the middle of its period of this host's clock (at `tick_s`: mid-tick, so a late poll still lands in its tick)")
    registers: dict[str, int] = doc(
        "sensor → register address 0..65535 in its table (a 32-bit type's first register, 0..65534); at least "
        "one; no register read by two sensors", default_factory=dict)
    scale: dict[str, float] = doc("sensor → multiplier applied to the decoded value (a sensor of `registers`); an "
                                  "integer register's product is rounded to the scale's decimals (3841 × 0.01 reads "
                                  "38.41)", default_factory=dict)
    # str, not a Literal of LAYOUT's types: a wrong one is said by validate() with the register map's width (user25)
    data_types: dict[str, str] = doc(
        "sensor → how its register(s) are decoded: `uint16` (the default) or `int16` (signed), one register each; "
        "`uint32`, `int32` or `float32` (IEEE: a NaN or inf is counted as `non-finite value`, not passed on), two "
        "registers each", default_factory=dict)
    word_order: Literal["ABCD", "CDAB"] = doc(
        "the device's order of a 32-bit value's two registers: `ABCD` high word first, `CDAB` low word first",
        default="ABCD")
    table: Table = doc("the register table read: `holding` (function 3) or `input` (function 4)", default="holding")
    tables: dict[str, Table] = doc("sensor → its table, where it is not the source's `table`", default_factory=dict)

    def fields(self) -> list[Field]:
        """Every sensor's register(s), skipping a value already reported as wrong."""
        return [Field(sensor, self.tables.get(sensor, self.table), address, self.data_types.get(sensor, "uint16"))
                for sensor, address in self.registers.items()
                if isinstance(address, int) and self.data_types.get(sensor, "uint16") in LAYOUT
                and self.tables.get(sensor, self.table) in FUNCTION]

    def validate(self) -> list[tuple[str, str]]:
        """What the first poll would otherwise find: an address pymodbus refuses (its ValueError ended
        the source, and with it an agent with no other source, exit 0 after check-config said ok), or no
        register at all (a source that never gives a reading); and two sensors reading one register,
        which decode each other's bytes (a float32 at 10 and a uint16 at 11)."""
        if not all(isinstance(m, dict) for m in (self.registers, self.data_types, self.tables)):
            return []                       # already reported
        out = [(f"data_types.{sensor}", self._unknown_type(sensor, value)) for sensor, value in self.data_types.items()
               if isinstance(value, str) and value not in LAYOUT]
        for f in self.fields():
            last = MAX_ADDRESS + 1 - f.width
            if not 0 <= f.address <= last:
                said = f"{f.table} register address is 0..{last}, got {f.address}"
                out.append((f"registers.{f.sensor}", f"a {said}" if f.width == 1
                            else f"a {f.data_type} spans two registers: its {said}"))
        reach: Field | None = None          # of the fields before, in this table, the one reaching furthest
        for f in sorted(self.fields(), key=lambda f: (f.table, f.address)):
            if reach is not None and reach.table == f.table and f.address <= reach.last:
                out.append((f"registers.{f.sensor}", f"reads {f.where()}, which sensor {reach.sensor!r} reads "
                            f"({reach.where()}): each register is one sensor's"))
            if reach is None or reach.table != f.table or f.last > reach.last:
                reach = f
        if not self.registers:
            out.append(("registers", "at least one sensor -> register address is required"))
        return out

    def _unknown_type(self, sensor: str, value: str) -> str:
        """A data type the source does not know, said with the width the register map leaves it (modbus_types)."""
        address, table = self.registers.get(sensor), self.tables.get(sensor, self.table)
        if not isinstance(address, int) or table not in FUNCTION:
            return unknown_type(value, "holding", None, None)
        one_register = f"{table} register {address} is the table's last" if address >= MAX_ADDRESS else None
        for other, at in self.registers.items():
            width = LAYOUT.get(self.data_types.get(other, "uint16"), (1,))[0]
            if other != sensor and isinstance(at, int) and self.tables.get(other, self.table) == table \
                    and at <= address + 1 < at + width:
                one_register = f"{table} register {address + 1} is read by sensor {other!r}"
        return unknown_type(value, table, address, one_register)

    def sensor_problems(self, sensors: list[str]) -> list[tuple[str, str]]:
        per_sensor = {"scale": self.scale, "data_types": self.data_types, "tables": self.tables}
        if not all(isinstance(m, dict) for m in (self.registers, *per_sensor.values())):
            return []                       # already reported
        return [(f"{key}.{sensor}", f"no register is read for this sensor (`registers` has none): the {key} "
                                    "would apply to nothing")
                for key, mapping in per_sensor.items() for sensor in mapping
                if sensor in sensors and sensor not in self.registers]     # an unknown one: said by sensor_refs

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"{key}.{sensor}", sensor) for key in ("registers", "scale", "data_types", "tables")
                for sensor in getattr(self, key)]

    def label(self) -> str:
        return f"modbus {self.host}:{self.port}" + (f" unit {self.unit_id}" if self.unit_id != 1 else "")


def decode(words: list[int], data_type: str, word_order: str) -> float:
    """A value from its registers as the device sent them (16-bit words, first address first)."""
    if word_order == "CDAB":
        words = words[::-1]
    return float(struct.unpack(LAYOUT[data_type][1], struct.pack(f">{len(words)}H", *words))[0])


def poll_at(now: float, poll_s: float, last_period: int | None) -> tuple[float, int]:
    """(seconds to wait, the period polled): the middle of the period after the one the last poll was stamped in,
    or at once when this period's middle has passed and it was not polled yet (a late wake-up). `last_period` None (the
    first poll, or after an outage: the reconnect polls at once) or out of step with `now` (this host's clock
    stepped) starts again from the period `now` is in."""
    current = math.floor(now / poll_s)
    period = last_period + 1 if last_period is not None and current <= last_period <= current + 1 else current
    if last_period is None:
        return 0.0, current
    return max(0.0, (period + 0.5) * poll_s - now), period


class ModbusUnreachable(Exception):
    pass


class ModbusSource(Source):
    TYPE = "modbus"
    live = True

    def __init__(self, cfg: ModbusConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, tick_s, clock)
        from pymodbus.client import ModbusTcpClient
        from pymodbus.exceptions import ModbusException
        self._modbus_errors = ModbusException
        self.where = f"modbus {cfg.host}:{cfg.port}"
        self._stop = threading.Event()
        self.fields = cfg.fields()
        #: sensor → the decimals its integer register is rounded to after the scale (float32 registers: none)
        self._places = {f.sensor: scale_places(cfg.scale.get(f.sensor, 1.0)) for f in self.fields
                        if f.data_type != "float32"}
        self.timeout_s = min(3.0, max(0.2, 2 * cfg.poll_s))
        self.client = ModbusTcpClient(cfg.host, port=cfg.port, timeout=self.timeout_s, retries=0)
        self._reads = {"holding": self.client.read_holding_registers, "input": self.client.read_input_registers}
        #: each table's reads, (start, count): near registers share one until the device refuses it (`_split`)
        self.spans = {table: register_spans(sorted(f.address for f in self.fields if f.table == table),
                                            widths={f.address: f.width for f in self.fields if f.table == table})
                      for table in FUNCTION}
        #: shared reads of adjacent registers the device refused as covering a missing one at the last poll (`poll`)
        self._refused: set[tuple[str, int, int]] = set()

    def records(self) -> Iterator[Record]:
        backoff = self.cfg.poll_s
        outage = False
        last_period: int | None = None
        try:
            while not self._stop.is_set():
                when, _ = poll_at(time.time(), self.cfg.poll_s, last_period)
                if when > 0 and self._stop.wait(when):
                    return
                try:
                    values = self.poll()
                except ModbusUnreachable as exc:
                    # Counted directly, not via rejects.add: the outage is logged once below.
                    self.rejects.counts["modbus unreachable"] += 1
                    self.peer_lost(str(exc))
                    if not outage:
                        log.warning("%s unreachable (%s); retrying with backoff up to %.0f s",
                                    self.where, exc, MAX_BACKOFF_S)
                        outage = True
                    self.client.close()
                    if self._stop.wait(backoff):
                        return
                    backoff = min(2 * backoff, MAX_BACKOFF_S)
                    last_period = None              # the reconnect's poll at once, then back on the grid
                    continue
                self.peer_back()
                if outage:
                    log.warning("%s reachable again", self.where)
                    outage = False
                backoff = self.cfg.poll_s
                stamp = time.time()
                last_period = math.floor(stamp / self.cfg.poll_s)     # the period it is stamped in: a late one's
                if values:
                    yield Record(ts=stamp, values=values, origin=self.where)
        finally:
            self.client.close()

    def poll(self) -> dict[str, float]:
        """One reading of every register; raises ModbusUnreachable when the device is not there."""
        if not self.client.connected and not self.client.connect():
            if self.peer is not None and not self.peer[0]:      # an outage's retry: its reason is said already
                raise ModbusUnreachable("cannot connect")
            raise ModbusUnreachable(connect_failure(self.cfg.host, self.cfg.port, self.timeout_s))
        raw: dict[tuple[str, int], int] = {}
        for table in FUNCTION:
            for start, count in list(self.spans[table]):
                inside = [f for f in self.fields if f.table == table and start <= f.address < start + count]
                gap = count > sum(f.width for f in inside)      # registers no sensor reads
                words = self._read(table, start, count, inside)
                span = (table, start, count)
                if words is None and not gap and span not in self._refused:
                    # Adjacent registers, refused once: counted as any error. A device that refuses now and then
                    # (qa21's) is not split for it; one that lacks a register refuses again at the next poll.
                    self._refused.add(span)
                    self.rejects.add("modbus error", self.where, f"{read_said(table, start, count, inside)}: "
                                     f"{exception_said(_Refused(ILLEGAL_ADDRESS))}")
                    words = []
                elif words is not None:
                    self._refused.discard(span)
                if words is None:           # refused as covering a missing register: each sensor's alone, from now on
                    self._split(table, (start, count), inside)
                    reads = [(f.address, self._read(table, f.address, f.width, [f])) for f in inside]
                else:
                    reads = [(start, words)]
                for first, got in reads:
                    raw.update(((table, first + i), value) for i, value in enumerate(got))
        values = {}
        odd = []
        for f in self.fields:
            words = [raw.get((f.table, address)) for address in range(f.address, f.address + f.width)]
            if None in words:
                continue                    # its read failed: counted there
            value = decode(words, f.data_type, self.cfg.word_order) * self.cfg.scale.get(f.sensor, 1.0)
            if not math.isfinite(value):    # a float32 NaN or inf (a device's "no reading"), or one the scale overflowed
                odd.append((f, value))
                continue
            places = self._places.get(f.sensor)
            values[f.sensor] = value if places is None else round(value, places)
        if odd:                             # once a poll, its record, however many (qa54), worded when said
            self.rejects.add("non-finite value", self.where, lambda: "; ".join(
                f"{f.sensor}: {f.data_type} at {f.where()} reads {value}" for f, value in odd[:3])
                + (f"; … ({len(odd)} registers)" if len(odd) > 3 else "") + "; not used")
        return values

    def _split(self, table: str, span: tuple[int, int], inside: list[Field]) -> None:
        """The device refused the read `span` of `table`, shared by the sensors `inside`, as covering a register it
        does not have (between theirs, or one of theirs): each of them is read alone from now on (said once), so
        that a missing register costs its own sensor only."""
        spans = self.spans[table]
        at = spans.index(span)
        spans[at:at + 1] = [(f.address, f.width) for f in inside]
        log.warning("%s: the device refuses a read of %s registers %d..%d (illegal data address: a register between "
                    "or of the sensors' is not in its map); reading %s one at a time", self.where, table, span[0],
                    span[0] + span[1] - 1, ", ".join(f"{f.sensor} ({f.where()})" for f in inside))

    def _read(self, table: str, start: int, count: int, inside: list[Field]) -> list[int] | None:
        """The registers start..start+count-1 of `table`, or [] when the answer is counted as an error; None, not
        counted, when a read shared by several sensors (`inside`) is refused as covering a register the device does
        not have (the caller reads them one at a time)."""
        shared = len(inside) > 1
        what = read_said(table, start, count, inside)
        try:
            response = self._reads[table](start, count=count, device_id=self.cfg.unit_id)
        except (self._modbus_errors, OSError) as exc:   # OSError: pymodbus lets a socket's reset through as it is
            log.debug("%s: %s: pymodbus says: %s", self.where, what, exc)
            raise ModbusUnreachable(read_failure(exc, self.cfg.host, self.cfg.port, self.timeout_s)) from None
        if response.isError():
            if shared and getattr(response, "exception_code", None) == ILLEGAL_ADDRESS:
                return None
            self.rejects.add("modbus error", self.where, f"{what}: {exception_said(response)}")
            return []
        if response.function_code != FUNCTION[table]:   # e.g. input registers (4) for holding ones: other values
            self.rejects.add("modbus error", self.where, f"{what}: the device answered function "
                             f"{response.function_code} to a read of {table} registers ({FUNCTION[table]}); none used")
            return []
        if len(response.registers) != count:    # a short (or long) answer: which value is whose is unknown
            self.rejects.add("modbus error", self.where, f"{what}: the device answered {len(response.registers)} "
                             f"register(s) for {count}; none used")
            return []
        return response.registers

    def close(self) -> None:
        self._stop.set()


class _Refused(NamedTuple):
    """An exception answer as `exception_said` reads one (the shared read's refusal, said by its code)."""
    exception_code: int


def read_said(table: str, start: int, count: int, inside: list[Field]) -> str:
    """A read as its rejects name it, with the sensors it is for: 'holding register 50 (sensor d)', 'holding
    registers 0..2 (sensors a, b, c)' — a bare 'holding registers 50..50' left the operator to find whose it was
    in the register map (qa52)."""
    where = f"{table} register {start}" if count == 1 else f"{table} registers {start}..{start + count - 1}"
    names = ", ".join(f.sensor for f in inside)
    return f"{where} (sensor{'s' if len(inside) > 1 else ''} {names})" if inside else where


def register_spans(addresses: list[int], max_gap: int = 8, widths: dict[int, int] | None = None
                   ) -> list[tuple[int, int]]:
    """Sorted addresses grouped into (start, count) reads: near neighbours share one request. A value at
    address a spans `widths[a]` registers (1 when not given): a read holds all of them, never half of
    a 32-bit value (its other half then came from another poll, or not at all)."""
    widths = widths or {}
    spans: list[tuple[int, int]] = []
    for a in addresses:
        last = a + widths.get(a, 1) - 1
        if spans:
            start, count = spans[-1]
            end = start + count - 1
            if last <= end:
                continue
            if a - end <= max_gap and last - start + 1 <= MAX_REGISTERS_PER_READ:
                spans[-1] = (start, last - start + 1)
                continue
        spans.append((a, last - a + 1))
    return spans


def _probe() -> None:
    """Imports pymodbus, or raises ImportError: check-config asks before run would open the source."""
    import pymodbus.client  # noqa: F401


PLUGIN = Plugin(config=ModbusConfig, create=ModbusSource, probe=_probe)
