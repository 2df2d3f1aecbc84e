"""The simulator's two plants: what a freeway corridor's and a pump skid's sensors read, block by block of ticks,
given the incidents active — the physics of agent/sources/simulate.py's two scenarios.

Why a module of its own: the source (agent/sources/simulate.py) is its config, its anomaly schedule, the sensor
faults it lays over a plant's readings, the labels and the pacing; a plant is none of that, only how its measures
move together (a corridor's fundamental diagram and queues, a pump's load, heat and cavitation). Each is read in
one sitting apart from the other. A plant model is built on the config's sensors (`MODELS[scenario](sensors, seed,
noise, tick_s, variability, incident_queue)`), refusing names that do not fit it, and answers the schedule
(`pick_target`, `check_target`, `incident_length`, `incident_queue`, `affects`) and the run (`block`, `column`,
`scale`, `upper`).

Its random draws are `seeded_rng(seed, *stream)`: one stream per use, so that a run is a function of its seed
and turning one option on does not move another's draws.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..digest import without_openssl
from ..lean_import import deferred, submodule
from ..typed import doc, rng
from .simulate_queue import QueueTrace, trace_queue

if TYPE_CHECKING:
    from .simulate import Anomaly

CORRIDOR_MEASURES = ("flow", "occ", "speed")
PUMP_SENSORS = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]
PUMP_GROUP = "pump"

_CORRIDOR_NAME = re.compile(r"^(?P<station>[A-Za-z0-9]+)_(?P<measure>flow|occ|speed)$")


@dataclass
class VariabilityConfig:
    """How one simulated corridor day differs from the next (all 0 / off: every day a copy).

    Each UTC day draws its own values from the seed (`CorridorModel.day`), whichever options are
    on, so turning one on does not change the others' draws."""
    peak_shift_s: float = rng(0, 7200, default=0.0,
        doc="σ of each day's shift of the morning and of the evening peak (drawn apart), seconds")
    peak_height: float = rng(0, 0.5, default=0.0,
        doc="σ of each day's peak height, as a fraction of it (0.12: ±12 %), each peak drawn apart")
    queue_reach: float = rng(0, 10, default=0.0,
        doc="σ of each day's change in how many stations the recurrent queue reaches upstream")
    waves: bool = doc("stop-and-go waves in every queue, moving upstream at the congested-branch wave "
                      "speed, one every 3–8 min (the period drawn per day)", default=False)
    wet_chance: float = rng(0, 1, default=0.0,
        doc="the chance that a day is wet: free speed and capacity times `wet_factor` all day")
    wet_factor: float = rng(0.5, 1, default=0.88, doc="a wet day's free speed and capacity, as a fraction of dry")

    def on(self) -> bool:
        return bool(self.peak_shift_s or self.peak_height or self.queue_reach or self.waves or self.wet_chance)


def seeded_rng(seed: int, *stream: int) -> np.random.Generator:
    # What numpy.random.default_rng builds, imported here, when a simulation runs: without OpenSSL
    # (agent/digest.py) and without the rest of numpy.random (agent/lean_import.py; default_rng
    # itself asks numpy.random for RandomState, which would load it all), and without `secrets`'
    # code, which bit_generator imports for an unseeded SeedSequence only (lean_import.deferred).
    deferred("secrets", "randbits")
    generator = without_openssl(lambda: submodule("numpy.random", "_generator"))
    return generator.Generator(submodule("numpy.random", "_pcg64").PCG64([seed % 2**64, *stream]))


def ar1_block(state: np.ndarray, innovations: np.ndarray, rho: float) -> np.ndarray:
    """Unit-variance AR(1) along axis 0, continuing from `state` (updated in place)."""
    out = np.empty_like(innovations)
    gain = math.sqrt(1.0 - rho * rho)
    for t in range(innovations.shape[0]):
        state[:] = rho * state + gain * innovations[t]
        out[t] = state
    return out


# ---- corridor --------------------------------------------------------------------------------

class Day(NamedTuple):
    """One simulated day's draws (VariabilityConfig): all 0 / 1 when variability is off. The same
    fields as arrays, one value per tick (and station), are what CorridorModel.days returns."""
    am_shift_s: float | np.ndarray
    pm_shift_s: float | np.ndarray
    am_gain: float | np.ndarray
    pm_gain: float | np.ndarray
    queue_reach: float | np.ndarray     # stations added to (or taken from) the recurrent queue's reach
    wet: float | np.ndarray             # free speed and capacity factor: 1 dry
    wave_period_s: float | np.ndarray


class CorridorModel:
    V_FREE = 105.0              # km/h
    SPEED_SLOPE = 0.5           # km/h lost per veh/km/lane in free flow
    K_JAM = 140.0               # veh/km/lane
    Q_CAP = 2000.0              # veh/h/lane, nominal capacity
    W = Q_CAP / (K_JAM - Q_CAP / V_FREE)    # congested-branch wave speed, km/h
    LANES = 3
    OCC_PER_DENSITY = 0.65      # % occupancy per veh/km/lane (vehicle + detector length)
    STATION_TRAVEL_S = 30.0     # demand reaches the next station downstream this much later
    QUEUE_GROWTH_S = 240.0      # an incident queue backs up one station per this many seconds
    NOISE_TAU_S = 120.0         # correlation time of density fluctuations
    STATION_KM = V_FREE * STATION_TRAVEL_S / 3600.0     # station spacing
    # Where the free and congested branches meet (V_FREE - SLOPE k = W (K_JAM - k) / k): above it a
    # station is in a queue, and stop-and-go waves run through it.
    K_CRIT = ((V_FREE + W) - math.sqrt((V_FREE + W) ** 2 - 4 * SPEED_SLOPE * W * K_JAM)) / (2 * SPEED_SLOPE)
    WAVE_DEPTH = 0.5            # a wave's crest closes this fraction of the gap to jam density

    def __init__(self, sensors: list[str], seed: int, noise: float, tick_s: float,
                 variability: VariabilityConfig | None = None, incident_queue: str = "always"):
        self.seed = seed
        self.variability = variability if variability is not None and variability.on() else None
        self.queue_mode = incident_queue
        self._days: dict[int, Day] = {}
        self.stations: list[str] = []
        self.column: dict[str, int] = {}
        picks: list[tuple[int, int]] = []        # (station index, measure index) per sensor
        for j, name in enumerate(sensors):
            m = _CORRIDOR_NAME.match(name)
            if m is None:
                raise ValueError(f"sensor {name!r} does not fit the corridor scenario: expected "
                                 f"'<STATION>_flow', '<STATION>_occ' or '<STATION>_speed', e.g. 'S01_speed'")
            if m["station"] not in self.stations:
                self.stations.append(m["station"])
            picks.append((self.stations.index(m["station"]), CORRIDOR_MEASURES.index(m["measure"])))
            self.column[name] = j
        self.picks = np.array(picks, int).reshape(-1, 2)
        self.noise = noise
        self.rho = math.exp(-tick_s / self.NOISE_TAU_S)
        n = len(self.stations)
        rng = seeded_rng(seed, 3)
        # Demand grows towards the bottleneck (on-ramps) and eases after it (off-ramps).
        self.bottleneck = int(round(0.7 * (n - 1)))
        position = np.arange(n) / max(1, n - 1)
        self.demand_factor = np.where(np.arange(n) <= self.bottleneck, 0.9 + 0.1 * position, 0.92)
        self.demand_factor = self.demand_factor + rng.normal(0, 0.015, n)
        self.demand_factor[self.bottleneck] = 1.0
        self.max_queue = float(min(self.bottleneck + 1, 4))
        # Neighbouring stations share most of their fluctuations.
        mix = np.eye(n) + 0.6 * (np.eye(n, k=1) + np.eye(n, k=-1))
        self.mix = mix / np.linalg.norm(mix, axis=1, keepdims=True)
        self.noise_rng = seeded_rng(seed, 4)
        self.state = np.zeros(n)
        self.scale = np.array([(900.0, 6.0, 15.0)[m] for _, m in self.picks])
        self.upper = np.array([(np.inf, 100.0, np.inf)[m] for _, m in self.picks])

    # The fundamental diagram, per lane: speed from density, and free-flow density from flow. A wet
    # day (`wet` < 1) scales the speed axis: free speed, capacity and the wave speed W alike.
    def speed(self, k: np.ndarray, wet: float | np.ndarray = 1.0) -> np.ndarray:
        k = np.maximum(k, 0.1)
        return wet * np.minimum(self.V_FREE - self.SPEED_SLOPE * k, self.W * (self.K_JAM - k) / k)

    def free_density(self, q: np.ndarray, wet: float | np.ndarray = 1.0) -> np.ndarray:
        q = q / wet
        return q / (self.V_FREE - self.SPEED_SLOPE * q / self.V_FREE)

    def congested_density(self, q: float | np.ndarray, wet: float | np.ndarray = 1.0) -> float | np.ndarray:
        return self.K_JAM - q / (self.W * wet)

    @staticmethod
    def demand(epoch: np.ndarray, day: "Day | None" = None) -> np.ndarray:
        """Corridor demand, veh/h over all lanes, by UTC time of day; weekends have small peaks.
        `day`: each element's day's peak shifts and heights (None: every day the same)."""
        hours = (epoch % 86400.0) / 3600.0
        weekday = ((epoch // 86400.0) + 3) % 7          # 1970-01-01 was a Thursday; 0 = Monday
        peak = np.where(weekday < 5, 1.0, 0.35)
        am_at, pm_at, am_gain, pm_gain = (8.0, 17.5, 1.0, 1.0) if day is None else (
            8.0 + day.am_shift_s / 3600.0, 17.5 + day.pm_shift_s / 3600.0, day.am_gain, day.pm_gain)
        daytime = 1 / (1 + np.exp(-2.0 * (hours - 6.0))) / (1 + np.exp(1.5 * (hours - 21.5)))
        am = np.exp(-0.5 * ((hours - am_at) / 0.9) ** 2)
        pm = np.exp(-0.5 * ((hours - pm_at) / 1.1) ** 2)
        return 600.0 + 3400.0 * daytime + peak * (2400.0 * am_gain * am + 2600.0 * pm_gain * pm)

    def day(self, index: int) -> "Day":
        """Day `index`'s (days since 1970-01-01 UTC) draws; every value is drawn whatever is on."""
        if index not in self._days:
            v = self.variability or VariabilityConfig()
            z = np.clip(seeded_rng(self.seed, 7, index).standard_normal(5), -3.0, 3.0)
            u = seeded_rng(self.seed, 8, index).random(2)
            self._days[index] = Day(am_shift_s=float(z[0] * v.peak_shift_s), pm_shift_s=float(z[1] * v.peak_shift_s),
                                    am_gain=float(max(0.1, 1.0 + z[2] * v.peak_height)),
                                    pm_gain=float(max(0.1, 1.0 + z[3] * v.peak_height)),
                                    queue_reach=float(z[4] * v.queue_reach),
                                    wet=float(v.wet_factor if u[0] < v.wet_chance else 1.0),
                                    wave_period_s=float(180.0 + 300.0 * u[1]))
        return self._days[index]

    def days(self, epoch: np.ndarray) -> "Day | None":
        """Each element's day's draws, as arrays of epoch's shape; None without variability."""
        if self.variability is None:
            return None
        index = np.floor(epoch / 86400.0).astype(int)
        keys = sorted(set(index.ravel().tolist()))      # not np.unique: numpy.ma
        at = np.searchsorted(np.array(keys), index)
        table = np.array([self.day(i) for i in keys])   # (days, fields)
        return Day(*(table[at, j] for j in range(len(Day._fields))))

    def arriving(self, epoch: np.ndarray, wet: float | np.ndarray = 1.0) -> np.ndarray:
        """(T, S) flow per lane at each station in free flow: the demand that passed the first station
        STATION_TRAVEL_S per station earlier, times the station's factor, up to 0.97 of capacity."""
        lag = np.arange(len(self.stations)) * self.STATION_TRAVEL_S
        at_station = epoch[:, None] - lag[None, :]
        q_lane = self.demand(at_station, self.days(at_station)) * self.demand_factor / self.LANES
        return np.minimum(q_lane, 0.97 * self.Q_CAP * wet)

    def remaining(self, magnitude: float) -> float:
        """An incident's remaining capacity per lane, dry: magnitude 1 takes 60 % (at most 90 %)."""
        return self.Q_CAP * max(0.1, 1.0 - 0.6 * magnitude)

    def recurrent(self, epoch: np.ndarray, today: "Day | None", wet_now: float | np.ndarray) -> np.ndarray:
        """(T, S) how far each station is inside the recurrent queue (0–1): at peak the bottleneck's
        queue reaches up to max_queue stations upstream (today's reach with variability)."""
        at_bottleneck = epoch - self.bottleneck * self.STATION_TRAVEL_S
        load = self.demand(at_bottleneck, self.days(at_bottleneck)) / (self.LANES * self.Q_CAP * wet_now)
        reach = self.max_queue if today is None else np.clip(self.max_queue + today.queue_reach, 0.0,
                                                             self.bottleneck + 1.0)
        queue = reach * np.clip((load - 0.88) / 0.12, 0.0, 1.0)
        distance = self.bottleneck - np.arange(len(self.stations))
        return np.where(distance >= 0, np.clip(queue[:, None] - distance[None, :], 0.0, 1.0), 0.0)

    def block(self, elapsed: np.ndarray, epoch: np.ndarray, incidents: list[Anomaly]) -> np.ndarray:
        n = len(self.stations)
        today = self.days(epoch)                        # the weather and the queue's reach: by the clock
        wet_now = 1.0 if today is None else today.wet
        wet = 1.0 if today is None else wet_now[:, None]
        k = self.free_density(self.arriving(epoch, wet), wet)
        congested = self.recurrent(epoch, today, wet_now)
        k = k + congested * np.maximum(0.0, self.congested_density(0.8 * self.Q_CAP * wet, wet) - k)

        for a in incidents:
            k = self._incident(k, elapsed, a, wet) if a.queue is None else self._demand_queue(k, elapsed, a, wet)
        if self.variability is not None and self.variability.waves:
            k = self._waves(k, epoch, today)

        innovations = self.noise_rng.standard_normal((elapsed.size, n)) @ self.mix.T
        k = k * np.exp(0.06 * self.noise * ar1_block(self.state, innovations, self.rho))
        v = self.speed(k, wet)
        measured = np.stack([self.LANES * k * v, self.OCC_PER_DENSITY * k, v], axis=-1)   # (T, S, 3)
        wobble = self.noise_rng.standard_normal(measured.shape)
        measured[..., 0] *= 1.0 + 0.03 * self.noise * wobble[..., 0]
        measured[..., 1] *= 1.0 + 0.03 * self.noise * wobble[..., 1]
        measured[..., 2] += 1.5 * self.noise * wobble[..., 2]
        return measured[:, self.picks[:, 0], self.picks[:, 1]]

    def _waves(self, k: np.ndarray, epoch: np.ndarray, today: "Day") -> np.ndarray:
        """Stop-and-go waves in every queue: crests of density that move upstream at the day's
        congested-branch wave speed, reaching the next station upstream STATION_KM / W later."""
        position_km = np.arange(k.shape[1]) * self.STATION_KM
        w = self.W * today.wet[:, None]                                     # km/h
        phase = (epoch[:, None] + position_km[None, :] * 3600.0 / w) / today.wave_period_s[:, None]
        crest = (0.5 + 0.5 * np.sin(2 * np.pi * phase)) ** 4
        queued = np.clip((k - self.K_CRIT) / self.K_CRIT, 0.0, 1.0)
        return k + queued * self.WAVE_DEPTH * crest * (self.K_JAM - k)

    def _incident(self, k: np.ndarray, elapsed: np.ndarray, a: Anomaly, wet=1.0) -> np.ndarray:
        """A capacity drop at one station: a queue backs up upstream, downstream is starved."""
        at = self.stations.index(a.target)
        q_left = self.remaining(a.magnitude) * wet
        tau = elapsed - a.start
        on = (tau >= 0) & (elapsed < a.end)
        tail = np.minimum(np.clip(tau, 0, a.duration) / self.QUEUE_GROWTH_S, at)   # stations backed up
        head = np.maximum(tau - a.duration, 0) / (self.QUEUE_GROWTH_S / 2)         # cleared from the front
        d = at - np.arange(k.shape[1])                                             # upstream distance
        backed_up = np.clip(tail[:, None] - d[None, :] + 1, 0, 1)
        not_cleared = np.clip(d[None, :] + 1 - head[:, None], 0, 1)
        queued = backed_up * not_cleared * (d[None, :] >= 0) * on[:, None]
        k = k + queued * np.maximum(0.0, self.congested_density(q_left, wet) - k)
        starved = (on & (tau < a.duration))[:, None] & (d[None, :] < 0)
        return np.where(starved, np.minimum(k, self.free_density(np.asarray(q_left), wet)), k)

    def incident_length(self, station: str, duration: float) -> float:
        """How long an incident affects the data: the capacity drop plus its queue clearing."""
        upstream = self.stations.index(station)
        backed_up = min(duration / self.QUEUE_GROWTH_S, upstream)
        return duration + (backed_up + 1) * self.QUEUE_GROWTH_S / 2

    def _demand_queue(self, k: np.ndarray, elapsed: np.ndarray, a: Anomaly, wet=1.0) -> np.ndarray:
        """`incident_queue: demand`: the stations the queue covers take its congested density; downstream
        is starved to the remaining capacity while the drop lasts and there is a queue."""
        q_left = self.remaining(a.magnitude) * wet
        upstream_km = (self.stations.index(a.target) - np.arange(k.shape[1])) * self.STATION_KM
        cover = a.queue.cover(elapsed, upstream_km, self.STATION_KM)
        k = k + cover * np.maximum(0.0, self.congested_density(q_left, wet) - k)
        starved = (a.queue.queued(elapsed) & (elapsed < a.start + a.duration))[:, None] & (upstream_km[None, :] < 0)
        return np.where(starved, np.minimum(k, self.free_density(np.asarray(q_left), wet)), k)

    def incident_queue(self, station: str, start: float, duration: float, magnitude: float,
                       epoch0: float) -> QueueTrace | None:
        """The queue a drop makes under `incident_queue: demand`, from the demand the clock gives
        (epoch0: the epoch of elapsed 0); None under `always` (the drop's queue is `_incident`'s)."""
        if self.queue_mode != "demand":
            return None

        def wet(elapsed: np.ndarray) -> np.ndarray:
            return np.ones_like(elapsed) if self.variability is None else self.days(epoch0 + elapsed).wet

        def upstream(elapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Flow and density as `block` makes them without incidents or noise: the free-flow
            demand, or inside the recurrent queue the flow it lets through at its density."""
            epoch, w = epoch0 + elapsed, wet(elapsed)[:, None]
            free = self.arriving(epoch, w)
            inside = self.recurrent(epoch, self.days(epoch), w[:, 0])
            k_free = self.free_density(free, w)
            k = k_free + inside * np.maximum(0.0, self.congested_density(0.8 * self.Q_CAP * w, w) - k_free)
            return free + inside * (np.minimum(free, 0.8 * self.Q_CAP * w) - free), k

        return trace_queue(start, duration, self.stations.index(station), self.STATION_KM, upstream=upstream,
                           q_left=lambda e: self.remaining(magnitude) * wet(e),
                           congested_density=lambda q, e: self.congested_density(q, wet(e)),
                           wave_kmh=lambda e: self.W * wet(e))

    def pick_target(self, kind: str, rng: np.random.Generator) -> str:
        if kind == "incident":
            lowest = min(2, len(self.stations) - 1)     # leave room for the queue to spread upstream
            return self.stations[int(rng.integers(lowest, len(self.stations)))]
        return list(self.column)[int(rng.integers(len(self.column)))]

    def check_target(self, kind: str, target: str, where: str) -> None:
        if kind == "incident" and target not in self.stations:
            raise ValueError(f"{where}.target: no station {target!r} (stations: {', '.join(self.stations)})")
        if kind != "incident" and target not in self.column:
            raise ValueError(f"{where}.target: {target!r} is not one of the simulated sensors")

    def affects(self, a: Anomaly) -> bool:
        return a.target in self.stations if a.kind == "incident" else a.target in self.column


# ---- pump ------------------------------------------------------------------------------------

class PumpModel:
    SEGMENT_S = 1200.0          # the load setpoint changes this often…
    RAMP_S = 120.0              # …over this long
    TAU_MOTOR_S = 900.0
    TAU_FLUID_S = 1800.0
    MEASUREMENT_NOISE = {"accel1": 0.008, "accel2": 0.01, "current": 0.03, "pressure": 0.008,
                         "temp_motor": 0.15, "temp_fluid": 0.05, "voltage": 0.6, "flow": 1.5}
    SCALE = {"accel1": 0.05, "accel2": 0.06, "current": 0.4, "pressure": 0.08,
             "temp_motor": 3.0, "temp_fluid": 1.5, "voltage": 4.0, "flow": 15.0}

    def __init__(self, sensors: list[str], seed: int, noise: float, tick_s: float,
                 variability: VariabilityConfig | None = None, incident_queue: str = "always"):
        if variability is not None and variability.on():
            raise ValueError("variability applies to the corridor scenario only, not 'pump'")
        if incident_queue != "always":
            raise ValueError("incident_queue: `demand` applies to the corridor scenario only, not 'pump'")
        for name in sensors:
            if name not in PUMP_SENSORS:
                raise ValueError(f"sensor {name!r} does not fit the pump scenario: expected one of "
                                 f"{', '.join(PUMP_SENSORS)}")
        self.column = {name: j for j, name in enumerate(sensors)}
        self.seed = seed
        self.noise = noise
        self.tick_s = tick_s
        self.noise_rng = seeded_rng(seed, 5)
        self.vibration = np.zeros(1)
        self.temps: tuple[float, float] | None = None     # (motor, fluid), lagging their targets
        self.scale = np.array([self.SCALE[s] for s in sensors])
        self.upper = np.full(len(sensors), np.inf)

    def setpoint(self, segment: int) -> float:
        return float(seeded_rng(self.seed, 6, max(segment, 0)).uniform(0.55, 1.0))

    def load(self, elapsed: np.ndarray) -> np.ndarray:
        """The load setpoint, eased from one segment's level to the next over RAMP_S."""
        segment = np.floor(elapsed / self.SEGMENT_S).astype(int)
        level = {j: self.setpoint(j) for j in {*(segment - 1).tolist(), *segment.tolist()}}   # not np.unique: numpy.ma
        before = np.array([level[j] for j in segment - 1])
        now = np.array([level[j] for j in segment])
        into = np.clip((elapsed - segment * self.SEGMENT_S) / self.RAMP_S, 0, 1)
        return before + (now - before) * (0.5 - 0.5 * np.cos(np.pi * into))

    def block(self, elapsed: np.ndarray, epoch: np.ndarray, incidents: list[Anomaly]) -> np.ndarray:
        n = elapsed.size
        z = self.noise_rng.standard_normal((n, 5 + len(PUMP_SENSORS)))
        load = self.load(elapsed) * (1 + 0.01 * self.noise * z[:, 0])
        flow = 125.0 * load
        pressure = 0.05 + 0.35 * load ** 2
        severity = self._cavitation(elapsed, incidents)
        flow = flow * (1 - 0.3 * severity)
        pressure = pressure * (1 - 0.45 * severity) + 0.03 * severity * z[:, 1]
        vibration = 1 + severity * (0.6 + 0.3 * np.abs(z[:, 2]))     # cavitation chatters
        current = 0.9 + 1.4 * load + 0.3 * pressure + 0.08 * severity * z[:, 3]
        voltage = 236.0 - 1.8 * current
        shared = ar1_block(self.vibration, z[:, 4:5], math.exp(-self.tick_s / 30.0))[:, 0]
        accel1 = (0.04 + 0.0013 * flow + 0.1 * pressure) * vibration + 0.006 * self.noise * shared
        accel2 = (0.08 + 0.0015 * flow + 0.12 * pressure) * vibration + 0.008 * self.noise * shared
        temp_motor, temp_fluid = self._temperatures(current, load, epoch)
        clean = {"accel1": accel1, "accel2": accel2, "current": current, "pressure": pressure,
                 "temp_motor": temp_motor, "temp_fluid": temp_fluid, "voltage": voltage, "flow": flow}
        out = np.empty((n, len(self.column)))
        for name, j in self.column.items():
            own = z[:, 5 + PUMP_SENSORS.index(name)]
            out[:, j] = clean[name] + self.MEASUREMENT_NOISE[name] * self.noise * own
        return out

    def _cavitation(self, elapsed: np.ndarray, incidents: list[Anomaly]) -> np.ndarray:
        """Fault severity per tick: ramps up over the first tenth of each incident, times its magnitude."""
        severity = np.zeros(elapsed.size)
        for a in incidents:
            tau = elapsed - a.start
            ramp = np.clip(tau / (0.1 * a.duration + self.tick_s), 0, 1)
            severity += a.magnitude * ramp * ((tau >= 0) & (tau < a.duration))
        return severity

    def _temperatures(self, current: np.ndarray, load: np.ndarray, epoch: np.ndarray):
        """Motor heat follows I²; the fluid follows load, motor and the daily ambient swing, both lagged."""
        ambient = 1.5 * np.sin(2 * np.pi * ((epoch % 86400.0) / 86400.0 - 0.375))
        motor_target = 55.0 + 7.0 * current ** 2
        fluid_target = 20.0 + 3.0 * load + ambient
        if self.temps is None:
            self.temps = (float(motor_target[0]), float(fluid_target[0] + 0.04 * (motor_target[0] - 55.0)))
        a_motor = 1 - math.exp(-self.tick_s / self.TAU_MOTOR_S)
        a_fluid = 1 - math.exp(-self.tick_s / self.TAU_FLUID_S)
        motor, fluid = self.temps
        motor_out, fluid_out = np.empty_like(current), np.empty_like(current)
        for t in range(current.size):
            motor += a_motor * (motor_target[t] - motor)
            fluid += a_fluid * (fluid_target[t] + 0.04 * (motor - 55.0) - fluid)
            motor_out[t], fluid_out[t] = motor, fluid
        self.temps = (motor, fluid)
        return motor_out, fluid_out

    def incident_length(self, target: str, duration: float) -> float:
        return duration

    def incident_queue(self, *_) -> None:
        return None                 # a cavitation has no queue

    def pick_target(self, kind: str, rng: np.random.Generator) -> str:
        if kind == "incident":
            return PUMP_GROUP
        return list(self.column)[int(rng.integers(len(self.column)))]

    def check_target(self, kind: str, target: str, where: str) -> None:
        if kind == "incident" and target != PUMP_GROUP:
            raise ValueError(f"{where}.target: the pump scenario has one group, "
                             f"{PUMP_GROUP!r}, not {target!r}")
        if kind != "incident" and target not in self.column:
            raise ValueError(f"{where}.target: {target!r} is not one of the simulated sensors")

    def affects(self, a: Anomaly) -> bool:
        return a.kind == "incident" or a.target in self.column


MODELS = {"corridor": CorridorModel, "pump": PumpModel}
