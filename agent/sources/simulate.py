"""A built-in, seeded, deterministic simulator with labelled anomalies: the source — its config, the anomaly
schedule, the sensor faults laid over a plant's readings, the labels and the pacing. The two plants' physics
are agent/sources/simulate_plants.py.

Two scenarios:

- corridor: freeway stations listed upstream → downstream, each with `<STATION>_flow`
  (veh/h, all lanes), `<STATION>_occ` (%) and `<STATION>_speed` (km/h). Demand follows the
  time of day (UTC) with AM/PM peaks; at peak a bottleneck queue backs up upstream. The three
  measures come from one traffic density through a triangular fundamental diagram, so they
  move together; density noise is AR(1) and correlated between neighbouring stations.
  Without `variability` every weekday is a copy of the last (the same demand curve, the queue at
  the same minute); with it each UTC day draws its own peak times and heights, recurrent-queue
  reach and weather from the seed, and queues carry stop-and-go waves — the normal differences
  between real days, never labelled (see VariabilityConfig). An incident's capacity drop makes its
  queue whatever the traffic (`incident_queue: always`, the default) or only while the demand
  arriving exceeds what is left (`demand`: agent/sources/simulate_queue.py).
- pump: a SKAB-like pump skid, sensors PUMP_SENSORS. A slowly changing load sets flow and
  pressure; current follows the load, motor temperature lags current, fluid temperature lags
  the motor, vibration follows flow and pressure, voltage sags with current.

Anomalies come from cfg.anomalies or, when that is None, from a seeded schedule that cycles
through ANOMALY_KINDS one every cfg.anomaly_every_s, the first at
max(1.5 × anomaly_every_s, WARMUP_TICKS × tick_s) so that a warm-up is clean. Every record
is labelled 1 while an anomaly is active (an incident stays active until its queue has
cleared), with the event id '<kind>-<n>@<target>' of the earliest active one.

The tick period is cfg.tick_s when set, else the `tick_s` the agent passes in, else 1 s.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from itertools import count
from typing import Callable, ClassVar, Iterator, Literal

import numpy as np

from ..records import Record, Rejects
from ..plugins import Plugin
from ..typed import INVALID, doc, rng
from .base import Source, SourceConfig
from .lines import parse_time
from .pacer import Pacer
from .simulate_plants import CORRIDOR_MEASURES, MODELS, CorridorModel, PumpModel, VariabilityConfig, seeded_rng
from .simulate_queue import QueueTrace

ANOMALY_KINDS = ("incident", "spike", "drift", "stuck", "dead", "dropout")

BLOCK_TICKS = 256               # ticks generated per vectorised step
WARMUP_TICKS = 600              # the seeded schedule leaves at least this many clean ticks first
SCHEDULED_DURATION_S = {"incident": 900.0, "spike": 120.0, "drift": 1200.0,
                        "stuck": 600.0, "dead": 300.0, "dropout": 300.0}
SPIKE_RATE = 0.2                # chance of a spike on each tick of a spike anomaly

def corridor_sensors(stations: int, prefix: str = "S") -> list[str]:
    """Sensor names for a corridor of `stations` stations: S01_flow, S01_occ, S01_speed, S02_flow…"""
    width = max(2, len(str(stations)))
    return [f"{prefix}{i:0{width}d}_{m}" for i in range(1, stations + 1) for m in CORRIDOR_MEASURES]


# ---- config ----------------------------------------------------------------------------------

@dataclass
class AnomalySpec:
    kind: Literal["incident", "spike", "drift", "stuck", "dead", "dropout"] = doc(
        "`incident`, `spike`, `drift`, `stuck`, `dead` or `dropout`")
    at_s: float = rng(0, None, default=0.0, doc="seconds after the simulation start")
    duration_s: float = rng(1, None, default=900.0, doc="how long it lasts, seconds")
    target: str | None = doc(
        "station / group (incident) or sensor name (the others); null: chosen by the seed", default=None)
    magnitude: float = rng(0, None, default=1.0, doc="how strong it is (1: typical)")


# Days as different as a real corridor's (issue 10): peaks 15 min early or late (σ), ±12 % high,
# the recurrent queue a station longer or shorter, stop-and-go waves, one day in five wet (12 % slower).
# The preset bench/accuracy.py --corridor-variable-days and convert.build_demo --variable-days use.
VARIABLE_DAYS = VariabilityConfig(peak_shift_s=900.0, peak_height=0.12, queue_reach=1.0, waves=True,
                                  wet_chance=0.2, wet_factor=0.88)


@dataclass
class SimulateConfig(SourceConfig):
    TYPE: ClassVar[str] = "simulate"
    scenario: Literal["corridor", "pump"] = doc(
        "`corridor` (sensors `<STATION>_flow/_occ/_speed`) or `pump` (`accel1, accel2, current, pressure,"
        " temp_motor, temp_fluid, voltage, flow`)", default="corridor")
    seed: int = doc("the run is a function of the seed", default=0)
    start: str = doc("simulated start time, ISO-8601 UTC", default="2026-01-05T06:00:00Z")
    duration_s: float | None = doc("simulated seconds; null: until stopped", default=None)
    speed: float = rng(0, None, default=0.0,
        doc="0: as fast as possible; 60: one simulated minute per second")
    fast_forward_s: float = rng(0, None, default=0.0,
        doc="simulated seconds emitted unpaced before pacing starts")
    noise: float = rng(0, None, default=1.0, doc="noise scale (1: typical)")
    anomalies: list[AnomalySpec] | None = doc(
        "the anomalies to inject; null: a seeded schedule of every kind", default=None)
    anomaly_every_s: float = rng(60, None, default=3600.0, doc="the seeded schedule's spacing")
    tick_s: float | None = rng(0.001, None, default=None,
        doc="the simulator's sample period; null: the agent's `tick_s`")
    variability: VariabilityConfig | None = doc(
        "corridor only: how normal days differ (peak time and height, queue reach, stop-and-go waves, "
        "wet days), drawn per day from the seed; null: every day alike", default=None)
    incident_queue: Literal["always", "demand"] = doc(
        "corridor only: when an incident's capacity drop makes a queue. `always`: the stations upstream "
        "congest one per 240 s whatever the traffic (a drop of 0 at night too); `demand`: only while the "
        "flow arriving exceeds the remaining capacity, the queue's tail moving at the LWR shock speed, "
        "so a small drop off-peak leaves no trace (agent/sources/simulate_queue.py)", default="always")

    def validate(self) -> list[tuple[str, str]]:
        """`start` is read as the source reads it when it opens: a time it cannot read refused here, not
        by `run` after check-config said ok; so is a run outside the years the aligner takes a record's time in
        (1970–2100, agent/window.py MAX_TS): `start: 1960-…` passed check-config, and `run` refused every record
        as `bad timestamp` (review38)."""
        if not isinstance(self.start, str):
            return []                       # already reported
        try:
            start = parse_time(self.start)
        except ValueError as exc:
            return [("start", f"not an ISO-8601 time such as 2026-01-05T06:00:00Z: {exc}")]
        from ..window import MAX_TS
        if not 0.0 <= start < MAX_TS:
            return [("start", f"{self.start!r} is not between 1970 and 2100, the years the agent takes a record's "
                              "time in: every record would be refused as `bad timestamp`")]
        if isinstance(self.duration_s, float) and start + self.duration_s >= MAX_TS:
            return [("duration_s", f"{self.duration_s:g} s from {self.start} runs past 2100, the last year the agent "
                                   "takes a record's time in: the records after it would be refused as `bad timestamp`")]
        return []

    def preflight(self, resolve) -> list[tuple[str, str]]:
        """A Note for each anomaly of `anomalies` that starts when the run has ended (`at_s` ≥ `duration_s`): it is
        never injected, and nothing said so — an evaluation on the run found no event to score (review38). A note:
        `run` takes such a config, and `stad-convert train --days` sets its own duration."""
        if not isinstance(self.duration_s, float) or not isinstance(self.anomalies, list):
            return []
        from ..host_checks import Note
        return [(f"anomalies[{j}].at_s", Note(f"{a.at_s:g} s is at or after the run's end (duration_s "
                                              f"{self.duration_s:g} s): this {a.kind} is never injected"))
                for j, a in enumerate(self.anomalies)
                if isinstance(a, AnomalySpec) and isinstance(a.at_s, float) and a.at_s >= self.duration_s]

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"anomalies[{j}].target", a.target) for j, a in enumerate(self.anomalies or [])
                if a.kind != "incident" and a.target is not None]

    def carried(self) -> tuple[list[str], bool]:
        """Every sensor of the config: the scenario's model writes each one. sensor_refs names only the anomalies'
        targets, and the base took those for what it carries: the demo's simulator (a spike on S02_occ, a stuck
        S03_speed) carried 2 of its 18 sensors in health's `sources` and in the source-fault map, so those two
        silent together would have been told as the simulator stopping (user29). As a seeded schedule (no targets)
        always was: a feed of every sensor no other source names."""
        return [], True

    def sensor_problems(self, sensors: list[str]) -> list[tuple[str, str]]:
        """The scenario's model built on these sensors, and every incident's station checked on it
        (sensor targets are checked by sensor_refs)."""
        if any(v is INVALID for v in (self.scenario, self.seed, self.noise, self.tick_s, self.anomalies)):
            return []                       # already reported
        try:
            model = MODELS[self.scenario](sensors, self.seed, self.noise, self.tick_s or 1.0)
        except ValueError as exc:
            return [("scenario", str(exc))]
        problems = []
        if self.scenario != "corridor" and isinstance(self.variability, VariabilityConfig):
            problems.append(("variability", f"applies to the corridor scenario only, not {self.scenario!r}"))
        if self.scenario != "corridor" and self.incident_queue == "demand":
            problems.append(("incident_queue", f"`demand` applies to the corridor scenario only, not {self.scenario!r}"))
        for j, a in enumerate(self.anomalies or []):
            if a is not INVALID and a.kind == "incident" and isinstance(a.target, str):
                try:
                    model.check_target(a.kind, a.target, f"anomalies[{j}]")
                except ValueError as exc:
                    key, _, problem = str(exc).partition(": ")
                    problems.append((key, problem))
        return problems


# ---- anomalies -------------------------------------------------------------------------------

@dataclass
class Anomaly:
    kind: str
    start: float            # seconds after the simulation start
    duration: float
    end: float              # when its effect on the data ends
    target: str             # station or group (incident), sensor (the others)
    magnitude: float
    event: str
    rng: np.random.Generator
    frozen: float | None = None     # the value a 'stuck' sensor keeps
    queue: QueueTrace | None = None     # an incident's queue under `incident_queue: demand`
    first_spike_done: bool = False


class Schedule:
    """The anomalies of one run, materialised lazily so that an endless run has an endless schedule."""

    def __init__(self, cfg: SimulateConfig, model, tick_s: float):
        self.cfg = cfg
        self.model = model
        self.tick_s = tick_s
        self.epoch0 = parse_time(cfg.start)     # the clock an incident's demand-gated queue follows
        self.known: list[Anomaly] = []
        if cfg.anomalies is not None:
            self.known = self._explicit(cfg.anomalies)
            self.next_index = None
        else:
            self.every = cfg.anomaly_every_s
            self.first_at = max(1.5 * self.every, WARMUP_TICKS * tick_s)
            self.next_index = 0

    def _explicit(self, specs) -> list[Anomaly]:
        out, counts = [], {k: 0 for k in ANOMALY_KINDS}
        for i, spec in enumerate(specs):
            rng = seeded_rng(self.cfg.seed, 2, i)
            target = spec.target if spec.target is not None else self.model.pick_target(spec.kind, rng)
            self.model.check_target(spec.kind, target, f"anomalies[{i}]")
            counts[spec.kind] += 1
            out.append(self._anomaly(spec.kind, spec.at_s, spec.duration_s, target, spec.magnitude,
                                     counts[spec.kind], rng))
        return sorted(out, key=lambda a: a.start)

    def _anomaly(self, kind, start, duration, target, magnitude, n, rng) -> Anomaly:
        duration = max(duration, 3 * self.tick_s)
        end = start + (self.model.incident_length(target, duration) if kind == "incident" else duration)
        queue = (self.model.incident_queue(target, start, duration, magnitude, self.epoch0)
                 if kind == "incident" else None)
        return Anomaly(kind=kind, start=start, duration=duration, end=end if queue is None else queue.end,
                       target=target, magnitude=magnitude, event=f"{kind}-{n}@{target}", rng=rng, queue=queue)

    def _scheduled(self, i: int) -> Anomaly:
        kind = ANOMALY_KINDS[i % len(ANOMALY_KINDS)]
        rng = seeded_rng(self.cfg.seed, 1, i)
        # Short enough that one anomaly (and an incident's queue) is over before the next.
        cap = (0.25 if kind == "incident" else 0.4) * self.every
        duration = min(SCHEDULED_DURATION_S[kind], cap)
        return self._anomaly(kind, self.first_at + i * self.every, duration,
                             self.model.pick_target(kind, rng), 1.0, i // len(ANOMALY_KINDS) + 1, rng)

    def overlapping(self, t0: float, t1: float) -> list[Anomaly]:
        """Anomalies active at some time in [t0, t1]; forgets the ones that ended before t0."""
        if self.next_index is not None:
            while self.first_at + self.next_index * self.every <= t1:
                self.known.append(self._scheduled(self.next_index))
                self.next_index += 1
        self.known = [a for a in self.known if a.end > t0]
        return [a for a in self.known if a.start <= t1]


def apply_sensor_faults(x: np.ndarray, elapsed: np.ndarray, anomalies: list[Anomaly],
                        column: dict[str, int], scale: np.ndarray) -> None:
    """Spike, drift, stuck, dead and dropout (NaN: the reading is omitted), in place."""
    for a in anomalies:
        if a.kind == "incident" or a.target not in column:
            continue
        j = column[a.target]
        rows = np.flatnonzero((elapsed >= a.start) & (elapsed < a.end))
        if rows.size == 0:
            continue
        if a.kind == "spike":
            hits = a.rng.random(rows.size) < SPIKE_RATE
            if not a.first_spike_done:
                hits[0] = a.first_spike_done = True
            sizes = a.magnitude * 4.0 * scale[j] * (1.0 + 0.5 * a.rng.random(rows.size))
            x[rows[hits], j] += sizes[hits]
        elif a.kind == "drift":
            x[rows, j] += a.magnitude * 3.0 * scale[j] * (elapsed[rows] - a.start) / a.duration
        elif a.kind == "stuck":
            if a.frozen is None:
                a.frozen = float(x[rows[0], j])
            x[rows, j] = a.frozen
        elif a.kind == "dead":
            x[rows, j] = 0.0
        elif a.kind == "dropout":
            x[rows, j] = np.nan


def label_block(elapsed: np.ndarray, anomalies: list[Anomaly], affects) -> tuple[np.ndarray, list]:
    labels = np.zeros(elapsed.size, np.int8)
    events: list[str | None] = [None] * elapsed.size
    for a in sorted(anomalies, key=lambda a: a.start, reverse=True):   # the earliest wins
        if not affects(a):
            continue
        for t in np.flatnonzero((elapsed >= a.start) & (elapsed < a.end)):
            labels[t] = 1
            events[t] = a.event
    return labels, events


# ---- the run ---------------------------------------------------------------------------------

class Simulation:
    """A deterministic run: yields (seconds since start, Record) tick by tick, unpaced.

    Each iteration starts afresh from the seed, so iterating twice gives the same records.
    """

    def __init__(self, cfg: SimulateConfig, sensors: list[str], tick_s: float):
        if cfg.scenario not in MODELS:
            raise ValueError(f"unknown scenario {cfg.scenario!r} (expected one of {', '.join(MODELS)})")
        self.cfg = cfg
        self.sensors = list(sensors)
        self.tick_s = float(tick_s)
        self.start = parse_time(cfg.start)
        # Timestamps are made as (grid index) × tick_s: that divides back to the exact index,
        # where start + k × tick_s can land a hair below its tick (e.g. tick_s 0.1).
        grid = self.start / self.tick_s
        self.start_index = round(grid) if abs(grid - round(grid)) < 1e-6 else grid
        self.fresh_state()      # refuses bad sensor names and anomaly targets now, not mid-run
        self.total_ticks = (None if cfg.duration_s is None
                            else int(math.floor(cfg.duration_s / self.tick_s + 1e-9)))

    def fresh_state(self) -> tuple[CorridorModel | PumpModel, Schedule]:
        model = MODELS[self.cfg.scenario](self.sensors, self.cfg.seed, self.cfg.noise, self.tick_s,
                                          self.cfg.variability, self.cfg.incident_queue)
        return model, Schedule(self.cfg, model, self.tick_s)

    def incidents(self) -> list[Anomaly]:
        """Every incident of this finite run as the schedule makes it: under `incident_queue: demand`
        each carries its queue (`queue.formed`: whether the drop made one at all)."""
        if self.total_ticks is None:
            raise ValueError("incidents() needs a finite run: set duration_s")
        model, schedule = self.fresh_state()
        horizon = self.total_ticks * self.tick_s
        return [a for a in schedule.overlapping(0.0, horizon) if a.kind == "incident" and a.start < horizon
                and model.affects(a)]

    def __iter__(self) -> Iterator[tuple[float, Record]]:
        model, schedule = self.fresh_state()
        for k0 in count(0, BLOCK_TICKS):
            n = BLOCK_TICKS if self.total_ticks is None else min(BLOCK_TICKS, self.total_ticks - k0)
            if n <= 0:
                return
            ticks = np.arange(k0, k0 + n)
            elapsed = ticks * self.tick_s
            epoch = (self.start_index + ticks) * self.tick_s
            active = schedule.overlapping(float(elapsed[0]), float(elapsed[-1]))
            x = model.block(elapsed, epoch, [a for a in active if a.kind == "incident"])
            x = np.clip(x, 0.0, model.upper)
            apply_sensor_faults(x, elapsed, active, model.column, model.scale)
            x = np.clip(x, 0.0, model.upper)
            labels, events = label_block(elapsed, active, model.affects)
            for t in range(n):
                values = {s: float(v) for s, v in zip(self.sensors, x[t]) if v == v}
                yield float(elapsed[t]), Record(ts=float(epoch[t]), values=values, label=int(labels[t]),
                                                event=events[t], origin=f"simulate:{k0 + t}")


def generate(cfg: SimulateConfig, sensors: list[str], tick_s: float) -> list[Record]:
    """Every record of a finite run (cfg.duration_s required), as fast as possible."""
    if cfg.duration_s is None:
        raise ValueError("generate() needs a finite run: set duration_s")
    return [rec for _, rec in Simulation(cfg, sensors, tick_s)]


class SimulateSource(Source):
    TYPE = "simulate"

    def __init__(self, cfg: SimulateConfig, sensors: list[str], rejects: Rejects, base_dir: str = ".",
                 tick_s: float = 1.0, clock: Callable[[], float] = time.time):
        super().__init__(cfg, sensors, rejects, base_dir, cfg.tick_s or tick_s, clock)
        self.simulation = Simulation(cfg, sensors, self.tick_s)
        self._stop = threading.Event()

    def records(self) -> Iterator[Record]:
        pacer = Pacer(self.cfg.speed, self._stop)
        for elapsed, rec in self.simulation:
            if self._stop.is_set():
                return
            if elapsed >= self.cfg.fast_forward_s and not pacer.wait(elapsed):
                return
            yield rec

    def close(self) -> None:
        self._stop.set()


PLUGIN = Plugin(config=SimulateConfig, create=SimulateSource)
