"""The agent's configuration: typed, validated at load, unknown keys rejected.

`load(path)` returns an AgentConfig or raises typed.ConfigError naming the file and the
key path of every problem (`sources[0].columns.Pressure: unknown sensor 'S03_sped'`).

This module holds the core (node, window, warm-up, scoring, threshold, alerts). The config of
each source, sink and model runtime lives in that plugin's own module and is found by
agent/plugins.py, so adding one touches one new file.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, make_dataclass, replace
from pathlib import Path
from typing import Any, Literal, Union

from . import scorers as scorers_pkg
from . import sinks as sinks_pkg
from . import sources as sources_pkg
from .faults.config import FaultConfig
from .likelihood import LikelihoodConfig
from .paths import resolve_against
from .prometheus import MetricsConfig
from .scorers.profile import ProfileConfig, temperature_sensors
from .threshold import RECURRING_MEMORY_CYCLES
from .broker import topic_name_problem
from .config_file import read_mapping
from .config_clashes import entry_clashes
from .sinks.base import SinkContext
from .typed import INVALID, ConfigError, PluginChoice, build, did_you_mean, doc, overrides_of, rng


#: threshold.memory_ticks' bound (see there)
MEMORY_TICKS_MAX = 10_000_000


@dataclass
class SensorSpec:
    name: str = doc("the sensor's name, as sources and alerts use it")
    group: str | None = doc(
        "its station / machine; default: the name's prefix before `_` (`S03_speed` → `S03`)", default=None)
    neighbours: list[str] | None = doc(
        "explicit neighbours (sensor names); override the topology rule", default=None)
    unit: str | None = doc("unit, for people reading alerts", default=None)
    min: float | None = doc("physical range, lower end: a reading below it is an `out_of_range` fault", default=None)
    max: float | None = doc("physical range, upper end: a reading above it is an `out_of_range` fault", default=None)
    floor: float | None = doc("what the sensor reads when dead (`dead` fault); default: `min`, else 0", default=None)

    def validate(self) -> list[tuple[str, str]]:
        if self.min is not None and self.max is not None and self.min >= self.max:
            return [("max", f"must exceed min ({self.min:g})")]
        return []


@dataclass
class NodeConfig:
    id: str = doc("this gateway's name, in alert ids and MQTT topics (not empty; no `/`, `+`, `#`)",
                  default="gateway-01")
    site: str = doc("the site's name, in alerts and MQTT topics (not empty; no `/`, `+`, `#`)", default="default")

    def validate(self) -> list[tuple[str, str]]:
        return [(key, problem) for key, part in (("id", self.id), ("site", self.site))
                if (problem := topic_name_problem(part))]


@dataclass
class WindowConfig:
    steps: int = rng(4, 4096, default=32, doc="T, ticks in the window a scorer sees")
    # Bounded: the aligner counts it in ticks (window.carry_ticks), and 1e306 s at a 1 ms tick was no number of ticks —
    # `run` ended with OverflowError at every start after check-config said ok (review38). 1e9 s is 31 years.
    carry_forward_s: float = rng(0, 1e9, default=60.0,
        doc="how long a silent sensor's last value is carried before it counts as missing")
    lateness_ticks: int = rng(0, 1000, default=1, doc="ticks a tick stays open for late samples")
    idle_flush_s: float = rng(0, None, default=0.0,
        doc="live sources: close ticks on the wall clock this long after they end even if no newer sample "
            "came (0: off)")
    max_clock_skew_s: float = rng(0, None, default=300.0,
        doc="live sources: a record stamped further than this from the host's clock at arrival is rejected "
            "(0: off — then only the jump rule applies)")


@dataclass
class WarmupConfig:
    ticks: int = rng(16, None, default=300,
        doc="ticks collected before scoring starts (fit + calibrate the fallback, learn normalisation when "
            "there is no bundle); must exceed `window.steps`")
    counts: Literal["ticks", "rows"] = doc(
        "what `ticks` counts: aligned ticks, or source rows", default="ticks")
    fit_fraction: float = rng(0.3, 0.95, default=0.7,
        doc="the share of warm-up that fits the fallback models; the rest calibrates score scale and "
            "threshold")
    held_out: Literal["frozen", "live"] = doc(
        "how the fallback scores the warm-up's last 1 − `fit_fraction` for its threshold: `frozen`, by the model "
        "fitted on the rest (its threshold knows how far the plant wanders past a fit); `live`, as live ticks, each "
        "then learned, so it starts having learned the whole warm-up — at 1-s ticks, where live it follows a move of "
        "the operating point within ~30 ticks, `frozen` can set the threshold far above any live score for good "
        "(qa45: ~67 on the simulator's pump under configs/industrial.yaml, no alert)", default="frozen")
    flat_sensors: Literal["score", "learn"] = doc(
        "a sensor that read one constant through a warm-up the normalisation is fitted on (its spread the std floor): "
        "`score` it from the first tick in units of that floor (any change of it alerts while it differs; said at the "
        "end of warm-up), or `learn` it live as a sensor the warm-up did not read is (agent/learning_sensors.py: not "
        "scored until read on `ticks` calm ticks in which it moves). `score` by default: SKAB's fallback lost F1 "
        "0.80 → 0.77 with `learn` (its Thermocouple is flat through 19 files' training rows and carries their "
        "anomalies; qa47, docs/measured/first-week.md). Either way, with faults on, a sensor flat for longer than "
        "`faults.learn_s` while its neighbours move is paged `never_varied` first and learnt again from its live "
        "readings once it moves (faults16)", default="score")
    replay: str | None = doc(
        "recorded normal data (a file or folder) the agent warms up on before live data; read with "
        "`replay_format`'s keys, the rest the config's first `replay` source's, else the replay defaults (`,`, a "
        "`timestamp`/`datetime`/`time`/`ts` column, columns named like the sensors); each file a recording of its "
            "own; labels are not used; a recording that gives no reading of any sensor is refused",
        default=None)
    replay_format: WarmupFormat = doc(
        "how `warmup.replay` is read: keys of a `replay` source (`format`, `separator`, `time_column`, `time_format`, "
        "`columns`) for the recording alone, e.g. `{separator: ';', time_column: datetime, columns: {Pressure: PT101}}`; "
        "the keys not given are the first `replay` source's, else the replay defaults. A config whose sources are live "
        "reads a plant's recordings as they are",
        default_factory=lambda: WarmupFormat())
    replay_max_ticks: int | None = rng(16, None, default=None,
        doc="the most ticks of `warmup.replay` the warm-up keeps and fits on: the newest (files are read newest "
            "first, in reverse name order, and the earlier ones not read once it has them); null: 1,382,400 "
            "readings' worth (2 days of 8 sensors at 1 s: 1,382,400 / the number of sensors), or `ticks` when "
            "more; at least `ticks`. Bounds the start's memory and time whatever the recording's length")


# ---- sources and sinks: plugins, each config next to its code --------------------------------
# agent/sources/*.py and agent/sinks/*.py each declare PLUGIN = Plugin(config=..., create=...);
# a `sources[i]` / `sinks[i]` entry is built into the config class its `type` names, whose module
# (agent/sources/<type>.py) is imported then and not before: a config loads only its own plugins.

class SourceEntry(PluginChoice):
    """A `sources[i]` entry: the config of the source its `type` names."""
    find = staticmethod(lambda tag: getattr(sources_pkg.plugin(tag), "config", None))
    every = staticmethod(lambda: [p.config for p in sources_pkg.plugins().values()])
    unusable = staticmethod(lambda: sources_pkg.unusable())


class SinkEntry(PluginChoice):
    """A `sinks[i]` entry: the config of the sink its `type` names."""
    find = staticmethod(lambda tag: getattr(sinks_pkg.plugin(tag), "config", None))
    every = staticmethod(lambda: [p.config for p in sinks_pkg.plugins().values()])
    unusable = staticmethod(lambda: sinks_pkg.unusable())


RUNTIME_PLUGINS = scorers_pkg.runtimes()
#: the replay source's config: the warm-up reads its recording with it (agent/sources/replay.py warmup_source)
ReplayConfig = sources_pkg.plugin("replay").config
#: warmup.replay_format: a replay source's format keys, for the warm-up's recording alone.
WarmupFormat = overrides_of(ReplayConfig, "WarmupFormat", {
    "path": "the recording is `warmup.replay`", "speed": "the warm-up reads as fast as it can",
    "label_columns": "the warm-up uses no labels", "labels_file": "the warm-up uses no labels"}, __name__)
ChainTier = Literal[(*RUNTIME_PLUGINS, "numpy")]


def format_keys(reader) -> dict:
    """The keys of a replay source config that say how a file is read (`warmup.replay_format`'s), where
    they are not the replay defaults: what a replay source for the same recordings must say."""
    default = type(reader)()
    return {f.name: getattr(reader, f.name) for f in fields(WarmupFormat)
            if getattr(reader, f.name) != getattr(default, f.name)}


# ---- scoring ----------------------------------------------------------------------------------

@dataclass
class NumpyScorerConfig:
    ar_order: int = rng(1, 16, default=3, doc="order of the per-sensor autoregressive forecaster")
    forgetting: float = rng(0.9, 1.0, default=0.999,
        doc="forgetting factor of the online models (closer to 1: longer memory)")
    markov_bins: int = rng(3, 64, default=8, doc="quantile bins of the Markov transition model")
    markov_smoothing: float = rng(0, None, default=0.5, doc="additive smoothing of the transition counts")
    weights: dict[str, float] = doc(
        "weight of each component (`ar`, `markov`, `fusion`) in a sensor's score",
        default_factory=lambda: {"ar": 1.0, "markov": 0.5, "fusion": 1.0})
    seasonal_periods_s: list[float] = doc(
        "the fallback's seasonal profile: periods, seconds (≥ 60; `[]`: none; `[86400, 604800]` adds the "
        "week), at most 288 bins each, used once a bin has seen 2 cycles",
        default_factory=lambda: [86400.0])
    seasonal_memory_cycles: int = rng(1, 1000, default=4,
        doc="the seasonal profile is a mean over about this many cycles")

    def validate(self) -> list[tuple[str, str]]:
        bad = sorted(set(self.weights) - {"ar", "markov", "fusion"})
        out = [(f"weights.{k}", "unknown component (ar, markov, fusion)") for k in bad]
        out += [(f"seasonal_periods_s[{i}]", f"a period must be at least 60 s, got {p!r}")
                for i, p in enumerate(self.seasonal_periods_s) if not p >= 60]
        return out


@dataclass
class _ScoringCore:
    """`scoring`, without the per-runtime sections that ScoringConfig adds from the runtime plugins."""
    chain: list[ChainTier] = doc(
        "tier order, tried first to last; must end in `numpy`, the fallback that is always there",
        default_factory=lambda: [*RUNTIME_PLUGINS, "numpy"])
    bundle: str | None = doc(
        "a model bundle directory (relative paths are from the config file), or `builtin:demo-corridor`",
        default=None)
    models_dir: str | None = doc("watched for new bundles (hot swap)", default=None)
    numpy: NumpyScorerConfig = doc("the numpy fallback's settings", default_factory=NumpyScorerConfig)
    profile: ProfileConfig = doc("the model tiers' normal profile", default_factory=ProfileConfig)
    blend_numpy: float = rng(0.0, 10.0, default=0.25,
        doc="while a model tier scores, each sensor's score is (model / its threshold + this × numpy fallback / "
            "its threshold) / (1 + this), in units of the model's threshold (0: the model alone; 0.25 by default "
            "since the skab32 round, configs/skab.yaml's value)")
    sensor_tail_quantile: float = rng(0.0, 1.0, default=0.0,
        doc="a model tier judges each sensor against its own calm tail: the warm-up's per-sensor scores' "
            "quantile this (0.99: their 99th percentile; scores over the bundle's threshold not counted) sets a "
            "gain per sensor so every sensor's tail ends where the median sensor's does; the tier keeps its bundle's "
            "threshold (agent/scorers/sensor_tails.py; 0: off, the scores as before)")
    latency_budget_ms: float = rng(0.01, None, default=50.0,
        doc="a model tier slower than this per tick for `fault_ticks` ticks in a row is stepped down from")
    fault_ticks: int = rng(1, None, default=3,
        doc="consecutive over-budget ticks before stepping down (an error or NaN steps down at once)")
    probation_ticks: int = rng(1, None, default=600, doc="ticks before a tier that stepped down is retried")
    shadow_ticks: int = rng(0, None, default=120,
        doc="hot swap: ticks a new bundle scores beside the current one before it may replace it; with "
            "`profile` on it first scores `window.steps` ticks unjudged (its settle: its history catches up with "
            "the ticks its load took), with 0 too")
    shadow_min_agreement: float = rng(0.0, 1.0, default=0.8,
        doc="hot swap: the share of alert decisions a new bundle must share with the current one")
    shadow_min_correlation: float | None = rng(-1.0, 1.0, default=None,
        doc="hot swap: a new bundle whose scores correlate less than this with the current one's over the shadow is "
            "rejected (null: logged, not judged — measured on SKAB, retrains of one plant correlated below 0 in 6-27 % "
            "of 120-tick shadows: docs/measured/model-updates.md). Where one side's scores are constant (a calm "
            "stretch) the shadow goes on up to 5× shadow_ticks; a candidate whose scores never move while the "
            "current one's do is rejected, one beside a current model that never moves is swapped in, said")
    shadow_refuse_off_scale: float | None = rng(0.0, 1.0, default=None,
        doc="hot swap: a new bundle is rejected when the readings of at least this share of the sensors are not on "
            "its normalisation's scale at the end of the shadow (e.g. 0.5; null: each such sensor is said, not "
            "refused)")
    models_poll_ticks: int = rng(1, None, default=10,
        doc="hot swap: `models_dir` is looked at every this many scored ticks (not during the warm-up nor while "
            "the window refills: a bundle delivered then is looked at this many ticks after the first score)")
    bundle_keys: list[str] = doc(
        "trusted Ed25519 public keys (PEM files); when set, every bundle must be signed by one of them "
        "(needs the `signing` extra)", default_factory=list)

    def validate(self) -> list[tuple[str, str]]:
        if "numpy" not in self.chain:
            return [("chain", "must end in 'numpy': the fallback is always there")]
        if self.chain[-1] != "numpy":
            return [("chain", "'numpy' must be last")]
        return []


# `scoring.<runtime>`: one section per runtime plugin (agent/scorers/tflite.py, onnx.py, ...).
ScoringConfig = make_dataclass(
    "ScoringConfig", [(name, p.config, doc(f"the {name} tier's settings", default_factory=p.config)) for name, p in RUNTIME_PLUGINS.items()],
    bases=(_ScoringCore,), namespace={"__module__": __name__})


#: `threshold.risk`'s default, the model tiers' (configs/skab.yaml's since its twenty-third round), and the
#: fallback's when `threshold.risk` is not given (every tier's default until the skab32 round).
MODEL_TIER_RISK = 0.005
FALLBACK_RISK = 0.001

# `threshold.numpy` may set every key of `threshold` but these (check-config says why).
NOT_PER_TIER = {
    "method": "not per tier: `threshold.method` is every tier's (a checkpoint is taken with one method)",
    "likelihood": "not per tier: `threshold.likelihood` is every tier's",
    "discord_ticks": "not per tier: the discord path (`threshold.discord_ticks`) watches the readings, not a tier's scores",
}


@dataclass
class ThresholdConfig:
    method: Literal["pot", "quantile"] = doc(
        "`pot` (peaks over threshold: a generalised Pareto tail) or `quantile` (a streaming quantile)",
        default="pot")
    risk: float = rng(1e-7, 0.2, default=MODEL_TIER_RISK, doc=(
        "target exceedance probability per tick, every tier's when given; not given: the model tiers' "
        f"{MODEL_TIER_RISK:g} and the fallback's {FALLBACK_RISK:g} (`threshold.numpy.risk` sets the fallback's)"))
    init_quantile: float = rng(0.5, 0.999, default=0.98, doc="where POT's tail starts")
    adapt: bool = doc("keep fitting the threshold on calm ticks", default=True)
    min_threshold: float = rng(0, None, default=0.0, doc="the threshold never goes below this")
    learn_above: float = rng(0, None, default=0.0,
        doc="outside alerts, a score above the threshold teaches it too, as at most this × the threshold "
            "(0: only calm scores teach it)")
    # bounded (review39): 10**300 passed check-config and Agent() raised OverflowError at every start (the scores'
    # deque); the refit sorts them all every 256 ticks and the checkpoint holds them: 10 M is 116 days at 1 s
    memory_ticks: int = rng(0, MEMORY_TICKS_MAX, default=0,
        doc="POT: every 256 learned ticks, fitted again on the last this many learned scores, so a burst in "
            "the warm-up stops setting the threshold (0: fitted once, then peak by peak; else ≥ 256)")
    quiet_s: float = rng(0, None, default=0.0,
        doc="after a tick above the threshold, it learns nothing for this long: the ticks between an "
            "event's peaks are not normal (0: it learns every calm tick outside alerts)")
    recurring_period_s: float = rng(0, None, default=0.0,
        doc="the threshold at t is at least the score reached near t's phase of this period on "
            f"`recurring_cycles` of the previous {RECURRING_MEMORY_CYCLES} periods — a daily job's spike is not "
            "news (0: off; else ≥ 3600)")
    recurring_tolerance_s: float = rng(0, None, default=3600.0,
        doc="how far from t's phase (either side) an earlier cycle's score counts, seconds")
    recurring_cycles: int = rng(1, RECURRING_MEMORY_CYCLES, default=2,
        doc=f"on how many of the previous {RECURRING_MEMORY_CYCLES} cycles the score must have been reached")
    clock_scale_period_s: float = rng(0, None, default=0.0,
        doc="the tick threshold in force at t is its fitted value × the typical score at t's phase of this "
            "period against the mean over phases (agent/clock_scale.py): busy hours' noise is not news "
            "(0: off; else ≥ 3600). Every tier's clock learns the warm-up's scores; it acts once every bin has "
            "seen 2 periods, the warm-up's included (check-config says when)")
    clock_scale_bins: int = rng(1, 1440, default=24,
        doc="bins of that period, each with its own typical score (each at least a tick long)")
    clock_scale_mode: Literal["fit", "judge"] = doc(
        "`fit`: POT learns score / the clock's factor and its fitted value is multiplied by it; `judge`: "
        "the threshold in force (the tick's and the mean path's, under the recurring level) is multiplied "
        "by it and everything learns the raw score — the clock only judges", default="fit")
    clock_scale_max_ratio: float = rng(1.0, 10.0, default=2.0,
        doc="the clock's factor is at most this (and at least its inverse)")
    clock_scale_raise_only: bool = doc("the clock only raises the threshold (busy hours), never lowers it",
                                       default=False)
    likelihood: LikelihoodConfig = doc(
        "a second path to an alert: the mean of the last few scores against its long-run spread "
        "(HTM's anomaly likelihood; agent/likelihood.py)", default_factory=LikelihoodConfig)
    discord_ticks: int = rng(0, 1000, default=0,
        doc="a third path to an alert: a sensor whose last this many fresh readings are farther in shape "
            "(z-normalised distance) from every earlier stretch than any stretch since the warm-up "
            "(agent/discord.py; 0: off; else ≥ 4)")
    # Set by from_dict: whether the config gave `risk` (`calibration_threshold`); not a key.
    risk_given: bool = field(default=True, init=False, metadata={"internal": "set by from_dict, not a key"})
    numpy: ThresholdOverride = doc(
        "the numpy fallback's threshold: keys of `threshold` (all but " + ", ".join(f"`{k}`" for k in NOT_PER_TIER)
        + ") that differ for the fallback alone, e.g. `{clock_scale_period_s: 86400, clock_scale_raise_only: true}`; "
        "the keys not given are `threshold`'s, and the model tiers keep `threshold`'s",
        default_factory=lambda: ThresholdOverride())

    def for_tier(self, tier: str) -> ThresholdConfig:
        """The threshold settings of `tier`: the fallback's (`numpy`) with its override block's keys,
        every other tier's as they are (this object itself when nothing is overridden)."""
        given = self.numpy.given() if tier == "numpy" and isinstance(self.numpy, ThresholdOverride) else {}
        return replace(self, numpy=ThresholdOverride(), **given) if given else self

    def validate(self) -> list[tuple[str, str]]:
        out = self._own_problems()
        given = self.numpy.given() if isinstance(self.numpy, ThresholdOverride) else {}
        if given and not any(v is INVALID for v in given.values()):
            # The fallback's settings as it runs them: a problem the override makes (a tolerance over half
            # of the fallback's own period) is reported under `numpy.`; one of `threshold`'s alone is not repeated.
            out += [(f"numpy.{key}", message) for key, message in self.for_tier("numpy")._own_problems()
                    if (key, message) not in out]
        return out

    def _own_problems(self) -> list[tuple[str, str]]:
        out = []
        if 0 < self.discord_ticks < 4:
            out.append(("discord_ticks", f"0 (off) or at least 4 ticks, got {self.discord_ticks}"))
        if 0 < self.memory_ticks < 256:
            out.append(("memory_ticks", f"0 (off) or at least 256 ticks, got {self.memory_ticks}"))
        if 0 < self.clock_scale_period_s < 3600:
            out.append(("clock_scale_period_s", f"0 (off) or at least 3600 s, got {self.clock_scale_period_s!r}"))
        if 0 < self.recurring_period_s < 3600:
            out.append(("recurring_period_s", f"0 (off) or at least 3600 s, got {self.recurring_period_s!r}"))
        if self.recurring_period_s > 0 and not self.recurring_tolerance_s < self.recurring_period_s / 2:
            out.append(("recurring_tolerance_s", f"must be under half the period ({self.recurring_period_s / 2:g} s), "
                        f"got {self.recurring_tolerance_s!r}"))
        return out


ThresholdOverride = overrides_of(ThresholdConfig, "ThresholdOverride", {**NOT_PER_TIER, "numpy": ""}, __name__)


@dataclass
class AlertConfig:
    min_duration_ticks: int = rng(1, None, default=2, doc="ticks above the threshold before an alert opens")
    instant_factor: float = rng(1.0, None, default=1.5,
        doc="one tick above threshold × this opens an alert at once")
    station_factor: float = rng(0.0, 1.0, default=0.0,
        doc="on a tick a model tier scores (never the numpy fallback), one tick above the threshold opens an alert at "
            "once when another sensor of the same station (its `group`) is above threshold × this on that tick: a "
            "second quantity where the excursion is (agent/alert_station.py; corridor27) (0: off)")
    clear_ticks: int = rng(1, None, default=5,
        doc="ticks below threshold × `hysteresis` before an alert ends")
    hysteresis: float = rng(0.1, 1.0, default=0.8, doc="an alert ends below threshold × this")
    cooldown_ticks: int = rng(0, None, default=10,
        doc="a new alert opens this many ticks after an alert's end at the earliest (0 or 1: the next tick); a tick "
            "that would open one before then is counted as suppressed")
    no_data_ticks: int | None = rng(1, None, default=None,
        doc="an open alert one of whose drivers has no reading (silent past `window.carry_forward_s`, a `missing` "
            "fault) is held, not cleared; after this many such ticks it ends with reason `no_data` "
            "(null: `window.steps`, as a restart gap longer than the window ends it `restart`)")
    update_interval_s: float = rng(0, None, default=60.0,
        doc="an open alert sends an update at most this often, when its peak grew or its top sensors changed")
    accept_after_s: float = rng(0, None, default=3600.0,
        doc="models stop learning from ticks above the threshold; an anomaly lasting this long is learned as "
            "the new normal instead of alerting for ever")
    subside_fraction: float = rng(0.0, 0.9, default=0.0,
        doc="an alert also ends when the score stays below this × its peak — with `hold_sigma`, not while the "
            "sensor that made the peak is still `hold_sigma` σ and `hold_fraction` of its excursion off its warm-up "
            "level (never a `scoring.profile.drifting` sensor) (0: off)")
    subside_release_ticks: int = rng(1, None, default=1,
        doc="after a subsided alert, no new alert opens below its residue (`subside_fraction` × its peak) "
            "until the score has stayed at or under the threshold for this many ticks in a row")
    hold_sigma: float = rng(0.0, None, default=0.0,
        doc="an open alert is held (its ticks still count, it does not end) while the recent observed level of "
            "one of its driver sensors (above the threshold when it opened or at a new peak) stays this many σ "
            "off that sensor's warm-up level, even when the score has fallen under the threshold; "
            "`scoring.profile.drifting` sensors never hold (a defaulted list: while a model tier scores) (0: off)")
    hold_fraction: float = rng(0.0, 1.0, default=0.0,
        doc="… and at least this share of the largest level distance that sensor reached during the alert "
            "(an anomaly that ends leaves a residue far below its own excursion)")
    hold_half_life_ticks: float = rng(0.5, 1000.0, default=10.0,
        doc="half-life of the EW mean of a sensor's observed values in the window that `hold_sigma` judges")
    release_fraction: float = rng(0.0, 1.0, default=0.0,
        doc="an open alert during which some sensor's observed level went `hold_sigma` σ or more off warm-up "
            "also ends (reason `subsided`) once, for `clear_ticks` ticks in a row, every sensor's level is under "
            "this share of the largest level distance reached during it, even with the score above the threshold; "
            "no new alert then opens while every level stays under that bar, until the score has stayed at or "
            "under the threshold for `subside_release_ticks` ticks (0: off; needs `hold_sigma`)")
    top_k: int = rng(1, 32, default=3, doc="sensors and time steps named per alert event")
    fault_end: bool = doc("an open alert ends (reason `sensor_fault`, naming the fault) when a fault that began with it "
                          "(in the hold-back before it, or on an opening driver within `faults.holdback_s` after) leaves "
                          "nothing above the threshold, that sensor and its mates' fusion part left out, for "
                          "`faults.holdback_s` of its ticks above it; while that fault lasts, new alerts are judged so "
                          "too (agent/alerts.py)", default=True)

    def validate(self) -> list[tuple[str, str]]:
        out = []
        if self.release_fraction > 0 and self.hold_sigma <= 0:
            out.append(("release_fraction", "needs hold_sigma > 0 (the level it judges, and how far the drivers "
                        f"must have moved), got hold_sigma {self.hold_sigma!r}"))
        return out


@dataclass
class AgentConfig:
    sensors: list[Union[str, SensorSpec]] = doc(
        "ordered list of sensor names, or `{name, group, neighbours, unit}` entries")
    sources: list[SourceEntry] = doc("where samples come from: entries with a `type` (below)")
    tick_s: float = rng(0.001, None, default=1.0, doc="the tick (sample period), seconds")
    node: NodeConfig = doc("who this gateway is", default_factory=NodeConfig)
    topology: Literal["group", "corridor", "none"] = doc(
        "neighbour rule for fusion and the model's prior: `corridor` (same quantity at the adjacent "
        "stations, in list order upstream → downstream), `group` (same station / machine), `none`; a "
        "sensor's own `neighbours` win", default="group")
    window: WindowConfig = doc(
        "the window the scorers see, and how samples become ticks", default_factory=WindowConfig)
    warmup: WarmupConfig = doc("the warm-up before scoring starts", default_factory=WarmupConfig)
    scoring: ScoringConfig = doc("the scorer chain and model bundles", default_factory=ScoringConfig)
    threshold: ThresholdConfig = doc("the adaptive threshold", default_factory=ThresholdConfig)
    alerts: AlertConfig = doc("the alert lifecycle", default_factory=AlertConfig)
    faults: FaultConfig = doc("sensor faults told apart from incidents (README: Sensor faults)",
                              default_factory=FaultConfig)
    sinks: list[SinkEntry] = doc(
        "where alert events go: entries with a `type` (below)",
        default_factory=lambda: [sinks_pkg.plugin("terminal").config()])
    metrics: MetricsConfig | None = doc(
        "a Prometheus endpoint `{listen: host:port}` (see Prometheus metrics; needs the `prometheus` extra); "
        "null: off", default=None)
    state_dir: str = doc(
        "where the agent keeps state (outbox, checkpoint, alert journal, active bundle; see Restarts); "
        "relative paths are from the config file", default="./state")
    checkpoint_s: float = rng(1, 86400, default=300.0,
        doc="the learned state is saved to `state_dir` this often (seconds), after a model swap and on a "
            "clean stop")
    log_level: Literal["debug", "info", "warning", "error"] = doc("log level on stderr", default="info")
    # Set by load(): the directory relative paths are resolved against.
    base_dir: str = field(default=".", metadata={"internal": "set by load(), not a key"})

    def validate(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        # Entries that failed to build are reported already; the checks below look at the rest.
        names = [s if isinstance(s, str) else s.name for s in self.sensors
                 if isinstance(s, str) or (isinstance(s, SensorSpec) and isinstance(s.name, str))]
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append((f"sensors[{i}]", f"duplicate sensor {name!r}"))
            seen.add(name)
        if not names:
            problems.append(("sensors", "at least one sensor is required"))
        for i, s in enumerate(self.sensors):
            if isinstance(s, SensorSpec) and isinstance(s.neighbours, list):
                for j, n in enumerate(s.neighbours):
                    if isinstance(n, str) and n not in seen:       # (one that is no string: said already)
                        problems.append((f"sensors[{i}].neighbours[{j}]", f"unknown sensor {n!r}{did_you_mean(n, names)}"))
        for i, src in enumerate(self.sources):
            if not isinstance(src, sources_pkg.SourceConfig):
                continue
            problems += [(f"sources[{i}].{key}", f"unknown sensor {sensor!r}{did_you_mean(sensor, names)}")
                         for key, sensor in src.sensor_refs() if sensor not in seen]
            if names and len(names) == len(seen):
                problems += [(f"sources[{i}].{key}", problem) for key, problem in src.sensor_problems(names)]
        node = self.node if isinstance(self.node, NodeConfig) else NodeConfig()    # (a node that failed: said already)
        problems += entry_clashes(self.sources, self.sinks, node)
        problems += [(f"sinks[{i}].{key}", problem) for i, sink in enumerate(self.sinks)
                     if isinstance(sink, sinks_pkg.SinkConfig) for key, problem in sink.topic_problems(node.site, node.id)]
        if not self.sources:
            problems.append(("sources", "at least one source is required"))
        problems += [(f"scoring.profile.drifting[{j}]", f"unknown sensor {n!r}{did_you_mean(n, names)}")
                     for j, n in enumerate(self.scoring.profile.drifting or ()) if isinstance(n, str) and n not in seen]
        if isinstance(self.warmup.ticks, int) and isinstance(self.window.steps, int) \
                and self.warmup.ticks <= self.window.steps:
            problems.append(("warmup.ticks", f"must exceed window.steps ({self.window.steps})"))
        problems += self._warmup_format_problems(seen, names)
        if isinstance(self.warmup.replay_max_ticks, int) and isinstance(self.warmup.ticks, int) \
                and self.warmup.replay_max_ticks < self.warmup.ticks:
            problems.append(("warmup.replay_max_ticks", f"must be at least warmup.ticks ({self.warmup.ticks}): "
                             "fewer recorded ticks cannot finish the warm-up"))
        for where, thr in self.clocks():
            if thr.clock_scale_period_s / thr.clock_scale_bins < self.tick_s:
                problems.append((f"{where}.clock_scale_bins", (
                    f"{thr.clock_scale_bins} bins of {thr.clock_scale_period_s:g} s are {thr.clock_scale_period_s / thr.clock_scale_bins:g} s "
                    f"each, shorter than the tick ({self.tick_s:g} s): a bin no tick falls in learns nothing, and the "
                    f"clock's factor stays 1 until every bin has; at most {int(thr.clock_scale_period_s // self.tick_s)} bins")))
        return problems

    def _warmup_format_problems(self, seen: set[str], names: list[str]) -> list[tuple[str, str]]:
        """`warmup.replay_format`'s keys checked as a replay source's are (a separator, the sensors its columns name)."""
        fmt = self.warmup.replay_format
        given = fmt.given() if isinstance(fmt, WarmupFormat) else {}
        if not given or any(v is INVALID for v in given.values()):
            return []
        merged = replace(ReplayConfig(), **given)
        return ([(f"warmup.replay_format.{key}", msg) for key, msg in merged.validate() if key in given]
                + [(f"warmup.replay_format.{key}", f"unknown sensor {sensor!r}{did_you_mean(sensor, names)}")
                   for key, sensor in merged.sensor_refs() if sensor not in seen])

    def warmup_reader(self) -> tuple[Any, str]:
        """The replay source config `warmup.replay` is read with (agent/sources/replay.py warmup_source):
        the first replay source's format keys, else the replay defaults, `warmup.replay_format`'s over
        them; and where they come from, for check-config's messages."""
        replay = ReplayConfig
        first = next(((i, s) for i, s in enumerate(self.sources) if isinstance(s, replay)), None)
        what = (f"sources[{first[0]}]'s separator, time_column, time_format and columns" if first
                else "the replay defaults")
        fmt = self.warmup.replay_format
        given = fmt.given() if isinstance(fmt, WarmupFormat) else {}
        if not given:
            return (first[1] if first else replay()), what
        return (replace(first[1] if first else replay(), **given),
                f"warmup.replay_format's {', '.join(given)}" + (f", and {what} for the rest" if first else ""))

    def clocks(self) -> list[tuple[str, ThresholdConfig]]:
        """The thresholds whose clock's scale is on, each with its key path: `threshold`, and
        `threshold.numpy` when the fallback's override sets a clock of its own (another period or bins)."""
        thr = self.threshold
        if not isinstance(thr, ThresholdConfig) or not isinstance(thr.numpy, ThresholdOverride) \
                or INVALID in thr.numpy.given().values():
            return []           # reported already
        out = [("threshold", thr)] if thr.clock_scale_period_s > 0 else []
        fallback = thr.for_tier("numpy")
        if fallback.clock_scale_period_s > 0 and (fallback.clock_scale_period_s, fallback.clock_scale_bins) != \
                (thr.clock_scale_period_s, thr.clock_scale_bins):
            out.append(("threshold.numpy", fallback))
        return out

    def sensor_specs(self) -> list[SensorSpec]:
        return [SensorSpec(name=s) if isinstance(s, str) else s for s in self.sensors]

    def sensor_names(self) -> list[str]:
        return [s.name for s in self.sensor_specs()]

    def resolve(self, path: str) -> Path:
        return resolve_against(path, self.base_dir)

    def sink_context(self) -> SinkContext:
        """What every sink is given besides its own config."""
        return SinkContext(node_id=self.node.id, site=self.node.site, state_dir=self.state_dir,
                           base_dir=self.base_dir)


def load(path: str | Path) -> AgentConfig:
    """The config file at `path`, typed and checked: a ConfigError naming the file and every problem's key path."""
    path = Path(path)
    return from_dict(read_mapping(path), source=str(path), base_dir=str(path.parent.resolve()))


def from_dict(data: object, source: str = "<config>", base_dir: str = ".") -> AgentConfig:
    if isinstance(data, dict) and "base_dir" in data:
        raise ConfigError(source, ["base_dir: unknown key"])
    cfg = build(AgentConfig, data, source)
    cfg.base_dir = base_dir     # the files it names (warmup.replay, bundle_keys, …): agent/preflight.py
    _unstated_defaults(cfg, data)
    return cfg


def _unstated_defaults(cfg: AgentConfig, data: dict) -> None:
    """The defaults that depend on what else the config says (skab32 round): `scoring.profile.drifting` not
    given → the sensors whose `unit` is a temperature (skab34: such a defaulted list still holds the fallback's
    alerts); `threshold.risk` not given → the fallback keeps
    FALLBACK_RISK (its value before the model tiers' default became MODEL_TIER_RISK) unless
    `threshold.numpy.risk` is given. A config that sets either key runs as it says."""
    cfg.scoring.profile.drifting_given = cfg.scoring.profile.drifting is not None
    if not cfg.scoring.profile.drifting_given:
        cfg.scoring.profile.drifting = temperature_sensors(
            [(s, None) if isinstance(s, str) else (s.name, s.unit) for s in cfg.sensors])
    threshold = data.get("threshold")
    cfg.threshold.risk_given = isinstance(threshold, dict) and "risk" in threshold
    if not cfg.threshold.risk_given and cfg.threshold.numpy.risk is None:
        cfg.threshold.numpy.risk = FALLBACK_RISK


def calibration_threshold(threshold: ThresholdConfig) -> ThresholdConfig:
    """What stad-convert calibrates a bundle's threshold (and verify judges agreement) with: `threshold` as
    the config gives it, at FALLBACK_RISK when it gives no `risk` — what every bundle was calibrated at before
    the skab32 round, and what that round measured user-trained bundles with. The agent fits the model tier's
    own threshold, at MODEL_TIER_RISK, on the plant's warm-up when the profile fits."""
    return threshold if threshold.risk_given else replace(threshold, risk=FALLBACK_RISK)


__all__ = ["AgentConfig", "ConfigError", "ScoringConfig", "load", "from_dict", "resolve_against", "calibration_threshold"]
