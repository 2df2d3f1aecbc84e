"""The agent's configuration: typed, validated at load, unknown keys rejected.

`load(path)` returns an AgentConfig or raises typed.ConfigError naming the file and the
key path of every problem (`sources[0].columns.Pressure: unknown sensor 'S03_sped'`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Union

import yaml

from .faults.config import FaultConfig
from .typed import ConfigError, build, rng


@dataclass
class SensorSpec:
    name: str
    group: str | None = None          # station / machine; default: the name's prefix before '_'
    neighbours: list[str] | None = None  # explicit neighbours override the topology rule
    unit: str | None = None
    min: float | None = None          # physical range: a reading outside it is an out_of_range fault
    max: float | None = None
    floor: float | None = None        # what the sensor reads when dead; default: min, else 0

    def validate(self) -> list[tuple[str, str]]:
        if self.min is not None and self.max is not None and self.min >= self.max:
            return [("max", f"must exceed min ({self.min:g})")]
        return []


@dataclass
class NodeConfig:
    id: str = "gateway-01"
    site: str = "default"


@dataclass
class WindowConfig:
    steps: int = rng(4, 4096, default=32)             # T
    carry_forward_s: float = rng(0, None, default=60.0)  # gap imputation bound
    lateness_ticks: int = rng(0, 1000, default=1)      # ticks a bucket stays open for late samples
    idle_flush_s: float = rng(0, None, default=0.0)    # live sources: close ticks on wall clock (0: off)


@dataclass
class WarmupConfig:
    ticks: int = rng(16, None, default=300)
    fit_fraction: float = rng(0.3, 0.95, default=0.7)  # the rest calibrates score scale and threshold


# ---- sources ---------------------------------------------------------------------------------

@dataclass
class AnomalySpec:
    kind: Literal["incident", "spike", "drift", "stuck", "dead", "dropout"]
    at_s: float = rng(0, None, default=0.0)    # seconds after the simulation start
    duration_s: float = rng(1, None, default=900.0)
    target: str | None = None   # station/group (incident) or sensor name (others); None: chosen by seed
    magnitude: float = rng(0, None, default=1.0)


class _SourceConfig:
    def sensor_refs(self) -> list[tuple[str, str]]:
        """(key path, sensor name) of every sensor this source names; AgentConfig checks them."""
        return []


@dataclass
class SimulateSource(_SourceConfig):
    TYPE: ClassVar[str] = "simulate"
    scenario: Literal["corridor", "pump"] = "corridor"
    seed: int = 0
    start: str = "2026-01-05T06:00:00Z"
    duration_s: float | None = None          # None: run until stopped
    speed: float = rng(0, None, default=0.0)  # 0: as fast as possible; 60: one simulated minute per second
    fast_forward_s: float = rng(0, None, default=0.0)  # emitted unpaced before pacing starts
    noise: float = rng(0, None, default=1.0)
    anomalies: list[AnomalySpec] | None = None  # None: a seeded schedule of every kind
    anomaly_every_s: float = rng(60, None, default=3600.0)
    tick_s: float | None = rng(0.001, None, default=None)  # None: the agent's tick_s

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"anomalies[{j}].target", a.target) for j, a in enumerate(self.anomalies or [])
                if a.kind != "incident" and a.target is not None]


@dataclass
class ReplaySource(_SourceConfig):
    TYPE: ClassVar[str] = "replay"
    path: str = ""
    format: Literal["csv", "jsonl", "auto"] = "auto"
    separator: str = ","
    time_column: str = "timestamp"
    time_format: str | None = None            # strptime format; None: ISO-8601 or epoch seconds
    columns: dict[str, str] | None = None     # column -> sensor; None: columns named like sensors
    label_columns: list[str] = field(default_factory=list)  # any non-zero marks the row anomalous
    labels_file: str | None = None            # NAB combined_windows.json
    speed: float = rng(0, None, default=0.0)  # 0: as fast as possible, 1: real time, 10: ×10

    def validate(self) -> list[tuple[str, str]]:
        return [] if self.path else [("path", "required for a replay source")]

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"columns.{col}", sensor) for col, sensor in (self.columns or {}).items()]


@dataclass
class UdpSource(_SourceConfig):
    TYPE: ClassVar[str] = "udp"
    bind: str = "127.0.0.1"
    port: int = rng(0, 65535, default=5555)
    max_datagram: int = rng(64, 65507, default=8192)


@dataclass
class StdinSource(_SourceConfig):
    TYPE: ClassVar[str] = "stdin"


@dataclass
class TlsConfig:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None       # a path, or a credential name (see Secret)
    insecure_skip_verify: bool = False


@dataclass
class Secret:
    """A secret is never written in the YAML: it comes from a file, the environment or systemd."""
    file: str | None = None
    env: str | None = None
    credential: str | None = None     # a name under $CREDENTIALS_DIRECTORY (systemd LoadCredential=)

    def validate(self) -> list[tuple[str, str]]:
        given = [k for k in ("file", "env", "credential") if getattr(self, k)]
        if len(given) != 1:
            return [("", "give exactly one of file, env, credential")]
        return []


@dataclass
class BrokerConfig:
    host: str = "localhost"
    port: int = rng(1, 65535, default=1883)
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = None
    username: str | None = None
    password: Secret | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = rng(5, 3600, default=30)
    reconnect_min_s: float = rng(0.1, None, default=1.0)
    reconnect_max_s: float = rng(1, None, default=60.0)


@dataclass
class MqttSource(_SourceConfig):
    TYPE: ClassVar[str] = "mqtt"
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    topics: dict[str, str] = field(default_factory=dict)  # topic (may use + / #) -> sensor, or '*' for JSON payloads that name the sensor
    qos: int = rng(0, 1, default=0)

    def sensor_refs(self) -> list[tuple[str, str]]:
        return [(f"topics.{topic}", sensor) for topic, sensor in self.topics.items() if sensor != "*"]


@dataclass
class ModbusSource(_SourceConfig):
    TYPE: ClassVar[str] = "modbus"
    host: str = "127.0.0.1"
    port: int = rng(1, 65535, default=502)
    unit_id: int = rng(0, 247, default=1)
    poll_s: float = rng(0.01, None, default=1.0)
    registers: dict[str, int] = field(default_factory=dict)  # sensor -> holding register address
    scale: dict[str, float] = field(default_factory=dict)    # sensor -> multiplier

    def sensor_refs(self) -> list[tuple[str, str]]:
        return ([(f"registers.{sensor}", sensor) for sensor in self.registers]
                + [(f"scale.{sensor}", sensor) for sensor in self.scale])


SourceConfig = Union[SimulateSource, ReplaySource, UdpSource, StdinSource, MqttSource, ModbusSource]


# ---- scoring ----------------------------------------------------------------------------------

@dataclass
class NumpyScorerConfig:
    ar_order: int = rng(1, 16, default=3)
    forgetting: float = rng(0.9, 1.0, default=0.999)
    markov_bins: int = rng(3, 64, default=8)
    markov_smoothing: float = rng(0, None, default=0.5)
    weights: dict[str, float] = field(default_factory=lambda: {"ar": 1.0, "markov": 0.5, "fusion": 1.0})

    def validate(self) -> list[tuple[str, str]]:
        bad = sorted(set(self.weights) - {"ar", "markov", "fusion"})
        return [(f"weights.{k}", "unknown component (ar, markov, fusion)") for k in bad]


@dataclass
class RuntimeScorerConfig:
    num_threads: int = rng(1, 64, default=1)


@dataclass
class ScoringConfig:
    chain: list[Literal["tflite", "onnx", "numpy"]] = field(default_factory=lambda: ["tflite", "onnx", "numpy"])
    bundle: str | None = None               # a bundle directory; relative paths are from the config file
    models_dir: str | None = None           # watched for new bundles (hot swap)
    numpy: NumpyScorerConfig = field(default_factory=NumpyScorerConfig)
    tflite: RuntimeScorerConfig = field(default_factory=RuntimeScorerConfig)
    onnx: RuntimeScorerConfig = field(default_factory=RuntimeScorerConfig)
    latency_budget_ms: float = rng(0.01, None, default=50.0)
    fault_ticks: int = rng(1, None, default=3)       # consecutive over-budget ticks before stepping down
    probation_ticks: int = rng(1, None, default=600)  # before retrying a higher tier
    shadow_ticks: int = rng(0, None, default=120)     # new bundle scored beside the current one
    shadow_min_agreement: float = rng(0.0, 1.0, default=0.8)  # alert decisions a new bundle must share
    models_poll_ticks: int = rng(1, None, default=10)  # how often models_dir is looked at

    def validate(self) -> list[tuple[str, str]]:
        if "numpy" not in self.chain:
            return [("chain", "must end in 'numpy': the fallback is always there")]
        if self.chain[-1] != "numpy":
            return [("chain", "'numpy' must be last")]
        return []


@dataclass
class ThresholdConfig:
    method: Literal["pot", "quantile"] = "pot"
    risk: float = rng(1e-7, 0.2, default=1e-3)        # target exceedance probability per tick
    init_quantile: float = rng(0.5, 0.999, default=0.98)
    adapt: bool = True                                 # keep fitting on calm ticks
    min_threshold: float = rng(0, None, default=0.0)


@dataclass
class AlertConfig:
    min_duration_ticks: int = rng(1, None, default=2)
    instant_factor: float = rng(1.0, None, default=1.5)  # one tick above threshold × this opens at once
    clear_ticks: int = rng(1, None, default=5)
    hysteresis: float = rng(0.1, 1.0, default=0.8)      # end below threshold × hysteresis
    cooldown_ticks: int = rng(0, None, default=10)
    update_interval_s: float = rng(0, None, default=60.0)
    accept_after_s: float = rng(0, None, default=3600.0)  # an anomaly lasting this long is learned as the new normal
    top_k: int = rng(1, 32, default=3)


# ---- sinks ------------------------------------------------------------------------------------

@dataclass
class TerminalSink:
    TYPE: ClassVar[str] = "terminal"
    color: bool = False


@dataclass
class JsonlSink:
    TYPE: ClassVar[str] = "jsonl"
    path: str = "alerts.jsonl"


@dataclass
class OutboxConfig:
    max_events: int = rng(10, None, default=100_000)
    max_age_s: float = rng(60, None, default=7 * 86400.0)


@dataclass
class MqttSink:
    TYPE: ClassVar[str] = "mqtt"
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    prefix: str = "stad"
    alert_expiry_s: int | None = None   # MQTT 5 message expiry for alerts
    health_interval_s: float = rng(1, None, default=30.0)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)


SinkConfig = Union[TerminalSink, JsonlSink, MqttSink]


@dataclass
class AgentConfig:
    sensors: list[Union[str, SensorSpec]]
    sources: list[SourceConfig]
    tick_s: float = rng(0.001, None, default=1.0)
    node: NodeConfig = field(default_factory=NodeConfig)
    topology: Literal["group", "corridor", "none"] = "group"
    window: WindowConfig = field(default_factory=WindowConfig)
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    sinks: list[SinkConfig] = field(default_factory=lambda: [TerminalSink()])
    state_dir: str = "./state"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Set by load(): the directory relative paths are resolved against.
    base_dir: str = "."

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        names = self.sensor_names()
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append((f"sensors[{i}]", f"duplicate sensor {name!r}"))
            seen.add(name)
        if not names:
            problems.append(("sensors", "at least one sensor is required"))
        for i, s in enumerate(self.sensors):
            if isinstance(s, SensorSpec):
                for j, n in enumerate(s.neighbours or []):
                    if n not in seen:
                        problems.append((f"sensors[{i}].neighbours[{j}]", f"unknown sensor {n!r}"))
        for i, src in enumerate(self.sources):
            problems += [(f"sources[{i}].{key}", f"unknown sensor {sensor!r}")
                         for key, sensor in src.sensor_refs() if sensor not in seen]
        if not self.sources:
            problems.append(("sources", "at least one source is required"))
        if self.warmup.ticks <= self.window.steps:
            problems.append(("warmup.ticks", f"must exceed window.steps ({self.window.steps})"))
        return problems

    def sensor_specs(self) -> list[SensorSpec]:
        return [SensorSpec(name=s) if isinstance(s, str) else s for s in self.sensors]

    def sensor_names(self) -> list[str]:
        return [s.name for s in self.sensor_specs()]

    def resolve(self, path: str) -> Path:
        return resolve_against(path, self.base_dir)


def resolve_against(path: str | Path, base_dir: str | Path) -> Path:
    """A path from a config: `~` expanded, relative paths taken from the config file's directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p


def load(path: str | Path) -> AgentConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    return from_dict(data, source=str(path), base_dir=str(path.parent.resolve()))


def from_dict(data: object, source: str = "<config>", base_dir: str = ".") -> AgentConfig:
    if isinstance(data, dict) and "base_dir" in data:
        raise ConfigError(source, ["base_dir: unknown key"])
    cfg = build(AgentConfig, data, source)
    cfg.base_dir = base_dir
    return cfg


__all__ = ["AgentConfig", "ConfigError", "load", "from_dict"]
