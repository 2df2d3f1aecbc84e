"""Row → window → scorer chain → detector (threshold, alert lifecycle, learning): the per-tick path.

The daemon (service.py) and the evaluator both drive this one class, so what is measured is
what runs. It has no I/O: it returns what happened on each tick. The decision rule itself is
agent/detector.py's, shared with the hot-swap shadow run and the evaluation baselines.

This module is the tick and the pipeline's public face (what the daemon, the evaluator, the hot swap
and the restart call). Beside it, each seam with its own reason in its docstring: fitting on this
plant's own ticks — the warm-up's end, and tiers prepared the same way later (pipeline_fit.py); where
sensor faults meet the alerts on a tick (pipeline_faults.py); the checkpointed state, rebuilt and checked
before any of it is swapped in (pipeline_state.py); ticks whose time is not continuous — a restart's gap,
a time base moved back, this host's clock stepped (pipeline_time.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import pipeline_state, pipeline_time
from .alert_residue import scores_by_name
from .alert_station import station_mates
from .alerts import AlertEvent, AlertTracker, explain
from .bundle import Expectation
from .detector import Detector
from .discord import DiscordWatch, judged_level
from .learning_sensors import LearningSensors
from .faults.events import FaultEvent
from .faults.holdback import ticks_of
from .faults.source import SourceMap
from .faults.recorded import RecordedTicks
from .faults.tracker import FaultTracker
from .held_out_ticks import simulations
from .pipeline_faults import judged_at, rejudged, tell_alert, unheard
from .pipeline_fit import TierFitter, end_warmup, scale_mismatches
from .scorers import build_tiers
from .scorers.base import Scorer, TickScore
from .scorers.chain import ScorerChain, blend
from .scorers.numpy_fallback import NumpyScorer
from .scorers.profile import LevelMonitor
from .scorers.standby import StandbyTier
from .recent_ticks import RecentTicks
from .register_ranges import with_register_ranges
from .scoring_state import scoring_now
from .threshold import AdaptiveThreshold
from .time_shift import shift_times
from .topology import adjacency, group_of
from .warmup import WarmupRows
from .window import Normaliser, Row, WindowBuffer

if TYPE_CHECKING:
    from collections.abc import Callable
    from .config import AgentConfig

log = logging.getLogger("stad.pipeline")


@dataclass
class TickResult:
    # (Pipeline.step builds a scored tick's by position: a new field goes after `scored`)
    ts: float
    warming: bool
    score: float = float("nan")
    threshold: float = float("nan")
    tier: str = ""
    sensor_scores: np.ndarray | None = None
    label: int | None = None
    event: str | None = None
    alerts: list[AlertEvent] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)
    scored: TickScore | None = None     # the scorer's result: its attention weights, computed when read
    times_moved_s: float | None = None  # the learned state's times moved by this much before this tick (_shift_times)

    @property
    def sensor_weights(self) -> np.ndarray | None:
        return None if self.scored is None else self.scored.sensor_weights

    @property
    def time_weights(self) -> np.ndarray | None:
        return None if self.scored is None else self.scored.time_weights


class Pipeline:
    def __init__(self, cfg: AgentConfig, tiers: list[Scorer] | None = None, warmup_ticks: int | None = None):
        """`tiers`: model scorers to put in front of numpy; None loads them from the config's bundle.
        `warmup_ticks`: ticks of warm-up (default cfg.warmup.ticks; evaluate trains on each file's
        training part)."""
        self.cfg = cfg
        self.warmup_ticks = cfg.warmup.ticks if warmup_ticks is None else warmup_ticks
        self.specs = cfg.sensor_specs()
        self.sensors = [s.name for s in self.specs]
        self.index = {name: i for i, name in enumerate(self.sensors)}
        self.groups = [group_of(s) for s in self.specs]
        n = len(self.sensors)
        self.fitter = TierFitter(cfg.threshold, cfg.scoring.profile, cfg.tick_s, cfg.window.steps,   # pipeline_fit.py
                                 simulations(cfg.sources))
        self.numpy = self._new_fallback()
        model_tiers = (build_tiers(cfg.scoring, Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir)
                       if tiers is None else list(tiers))
        self.chain = ScorerChain(model_tiers + [self.numpy], cfg.scoring, prepare=self._prepare_standby)
        manifest = next((t.manifest for t in model_tiers if getattr(t, "manifest", None)), None)
        self.normaliser = Normaliser.from_manifest(manifest.normalisation, self.sensors) if manifest else None
        self.detector = self.new_detector(self.fitter.bundle_thresholds(model_tiers))
        for tier in model_tiers:                 # the on-device normal profile (opt-in), fitted at warm-up
            if hasattr(tier, "set_profile"):
                tier.set_profile(cfg.scoring.profile)
        self.window = WindowBuffer(cfg.window.steps, n)
        # alerts.hold_sigma: an open alert's drivers hold it while their level is off warm-up's (alerts.py)
        self.level = self._new_level()
        self.source_map = SourceMap.of(cfg.sources, self.sensors)    # which source carries which sensor
        self.health = self._new_health()
        self.recorded: RecordedTicks | None = None     # warmup.replay's rows until the first live tick teaches them
        self._teaching_alive = None         # …and what it calls meanwhile (`warm_up_from`: the watchdog's ping)
        self.discord = self._new_discord()      # threshold.discord_ticks: a shape never seen before
        self.warmup = WarmupRows(n, self.warmup_ticks)
        self.warmup_counted = 0     # warm-up ticks or source rows so far (warmup.counts)
        self._warmup_extended = False   # said that the warm-up goes on for want of heard ticks (_warmup_heard_enough)
        self.refill = 0             # ticks still to push into the window before scoring (after a replay)
        self.refill_from: float | None = None   # only ticks from this one count towards it (refill_window `after`)
        # A hot-swapped bundle's profile is fitted on these (agent/recent_ticks.py); only with a profile.
        self.recent: RecentTicks | None = None
        self.recent_problem: str | None = None     # why the checkpoint's recent ticks were refused (restore)
        self.standby_problem: str | None = None    # why a standby's checkpointed warm-up ticks were refused
        # A restore onto another bundle or profile (pipeline_state.prepare_restored): why, while the model
        # tiers wait for the recent ticks to fill (the fallback scores meanwhile), and what became of them, in words.
        self.tier_waits: str | None = None
        self.tier_note: str | None = None
        # A model tier restored without its normal profile (pipeline_state.profile_missing): the recent ticks its
        # profile is fitted on once they hold as many
        self.profile_waits: int | None = None
        # Sensors the warm-up learnt no normal for: masked as missing until learnt live (agent/learning_sensors.py)
        self.learning: LearningSensors | None = None
        self.warm = False
        self.ticks = 0
        # The detector's callables, made once (a closure per callable per tick was ~0.4 µs a tick; perf54): each
        # reads the tick being judged from `_judged` — (the tick's TickScore, the readings that arrived, the
        # discord level) — set just before the detector's step, so called then or after (a fault raised after
        # the tick: AlertTracker.judged) it reads the tick it was handed with, as the closures did.
        self._judged: tuple = (None, None, None)
        self._calls = (self._model, self._explain, self._learn, self._hold, self._rejudge, self._unheard,
                       self._scores)

    def _new_fallback(self) -> NumpyScorer:
        cfg = self.cfg
        return NumpyScorer(len(self.sensors), adjacency(self.specs, cfg.topology), cfg.scoring.numpy, cfg.tick_s,
                           cfg.window.steps)

    def new_detector(self, thresholds: dict[str, AdaptiveThreshold]) -> Detector:
        """A Detector judging as this pipeline's does (the config's alert rules), with `thresholds`: the pipeline's,
        a restored one's (agent/pipeline_state.py), a hot-swap candidate's in shadow (agent/hotswap.py)."""
        cfg = self.cfg
        return Detector(cfg.alerts, cfg.node.id, cfg.node.site, cfg.tick_s, thresholds,
                        hold_ticks=cfg.faults.hold_ticks(cfg.tick_s),
                        fault_ticks=ticks_of(cfg.faults.holdback_s, cfg.tick_s), window_ticks=cfg.window.steps,
                        drifting=tuple(cfg.scoring.profile.drifting or ()),
                        residue_fraction=cfg.scoring.profile.residue_fraction if cfg.scoring.profile.enabled else 0.0,
                        station=station_mates(cfg.alerts.station_factor, self.sensors, self.groups))

    def _new_health(self) -> FaultTracker:
        cfg = self.cfg
        return FaultTracker(with_register_ranges(self.specs, cfg.sources), cfg.topology, cfg.tick_s, cfg.faults,
                            cfg.node.id, cfg.node.site, reentry_ticks=cfg.window.steps, sources=self.source_map,
                            carry_forward_s=cfg.window.carry_forward_s)

    def _new_level(self) -> LevelMonitor | None:
        """The unfitted level that holds alerts (alerts.hold_sigma), or None when holding is off."""
        if self.cfg.alerts.hold_sigma <= 0:
            return None
        profile = self.cfg.scoring.profile     # a defaulted `drifting` list leaves the fallback's hold alone (skab34)
        model_tier = None if profile.drifting_given else (lambda: self.chain.tier != "numpy")
        return LevelMonitor(self.sensors, self.cfg.alerts.hold_half_life_ticks, profile.drifting, model_tier)

    def _new_discord(self) -> DiscordWatch | None:
        m = self.cfg.threshold.discord_ticks
        return None if m <= 0 else DiscordWatch(len(self.sensors), m)

    # -- warm-up ------------------------------------------------------------------------------

    def _finish_warmup(self) -> None:
        """The fallback, the model tiers and the level fitted on the warm-up's ticks (pipeline_fit.end_warmup)."""
        self.normaliser, self.recent, self.learning = end_warmup(
            self.warmup, self.normaliser, self.fitter, sensors=self.sensors, chain=self.chain, numpy=self.numpy,
            detector=self.detector, window=self.window, level=self.level, discord=self.discord,
            fit_fraction=self.cfg.warmup.fit_fraction, held_out=self.cfg.warmup.held_out,
            keep_recent=self._keeps_recent(), learn_need=self.warmup_ticks,
            learn_flat=self.cfg.warmup.flat_sensors == "learn")
        self.warm = True

    def warm_up_from(self, rows: WarmupRows, alive: Callable[[str | None], None] | None = None) -> None:
        """Warm up on recorded normal rows (warmup.replay, agent/warmup.py `read_replay`: at most
        its newest `replay_max_ticks`) before live data. A recording shorter than the warm-up is
        topped up by live ticks. After a finished replay the first T live ticks only refill the
        window (the recording's last rows are from another time) and are not scored. `alive`: called while the
        fault rules are taught at the first live tick (faults/recorded.py `taught`: the agent's watchdog ping)."""
        # the fault rules are taught on some of these at the first live tick (its time of day: faults/recorded.py)
        self.recorded = RecordedTicks(rows, self.warmup_ticks, self.cfg.tick_s)     # (copied: the fit gives them back)
        self._teaching_alive = alive
        self.warmup = rows
        self.warmup_counted = (len(rows) if self.cfg.warmup.counts == "ticks"
                               else int((~rows.missing & ~rows.carried).any(axis=1).sum()))
        missing = max(0, self.warmup_ticks - self.warmup_counted)
        log.info("warm-up from a recording: %d ticks; %s", len(rows),
                 f"{missing} more {self.cfg.warmup.counts} from live data" if missing else "done")
        if not missing:
            self._finish_warmup()
            self.refill_window()

    def _teach_faults(self, live: Row) -> None:
        """At the first live tick after `warm_up_from`: the fault rules taught on the recording (faults12)."""
        recorded, self.recorded = self.recorded, None
        taught, said = recorded.taught(self._new_health, live, self._teaching_alive)
        if taught is not None:
            self.health = taught
        if said:
            log.info("%s", said)
            if self._teaching_alive is not None:
                self._teaching_alive(said)      # (the status said as the teaching ends)

    def _counts(self, row: Row) -> int:
        """1 when this row counts towards the warm-up: every tick, or (warmup.counts: rows) a tick
        that carries at least one fresh reading — a gap tick or a carried-forward one does not."""
        if self.cfg.warmup.counts == "ticks":
            return 1
        return int(bool((~row.missing & ~row.carried).any()))

    def _warmup_heard_enough(self) -> bool:
        """Whether at least half of the warm-up's ticks carried a fresh reading no fault masked. Counting ticks
        (`warmup.counts: ticks`), a warm-up through a source outage counted ticks that held nothing: chaos4's Modbus
        soak (seed 420) finished with 74 of its 80 ticks masked by an open `source` fault and a numpy threshold of
        0.035 (1.85–4.43 in the other runs). Such a warm-up goes on, said once, until half its ticks were heard."""
        rows = self.warmup
        heard = int((~rows.missing & ~rows.carried).any(axis=1).sum())
        if 2 * heard >= self.warmup_ticks:
            return True
        if not self._warmup_extended:
            self._warmup_extended = True
            log.warning("warm-up goes on: only %d of its %d ticks so far carried a reading no fault masked (a source "
                        "away or every sensor faulty); it ends once %d have", heard, len(rows),
                        (self.warmup_ticks + 1) // 2)
        return False

    # -- per tick -----------------------------------------------------------------------------

    def step(self, row: Row) -> TickResult:
        if self.recorded is not None:
            self._teach_faults(row)
        if row.rebased_from is not None:
            return pipeline_time.step_rebased(self, row)
        if row.clock_moved_s is not None:
            return pipeline_time.step_clock_moved(self, row)
        self.ticks += 1
        faults = self.health.observe(row)
        arrived = row.missing            # (before the mask: a faulty sensor's reading arrived all the same)
        row = self.health.mask(row)      # the model and the fallback never see a faulty sensor
        learning = self.learning
        if learning is not None:         # nor one with no learnt normal (its readings learnt below)
            heard, row = row, learning.mask(row)
        if not self.warm:
            self.warmup.append(row)
            self.warmup_counted += self._counts(row)
            if self.warmup_counted >= self.warmup_ticks and self._warmup_heard_enough():
                self._finish_warmup()
            return TickResult(ts=row.ts, warming=True, label=row.label, event=row.event, faults=faults)
        novel = None if self.discord is None else self.discord.step(
            row.values, ~row.missing & ~row.carried & np.isfinite(row.values))
        if self.refill > 0:
            if self.refill_from is None or row.ts >= self.refill_from:
                self.refill -= 1
            self.window.push_raw(row.values, row.missing, row.ts, self.normaliser)
            if self.recent is not None:     # kept as not calm (missing): a window across the join is none the plant made
                self.recent.push(self.window.values[-1], self.window.missing[-1], row.ts, False)
            if faults or self.health.stations.louder:   # (a fault's end unheard held `after_fault` for good: review28)
                tell_alert(self.detector.tracker, faults, self.health.stations.take_louder())
            return TickResult(ts=row.ts, warming=True, label=row.label, event=row.event, faults=faults)
        self.window.push_raw(row.values, row.missing, row.ts, self.normaliser)
        result: TickScore = self.health.quiet(   # no score from a sensor just back
            self.chain.score_blended(self.window, self.detector.threshold))
        level = (judged_level(result.sensor_scores, result.score, novel, self.cfg.alerts.instant_factor)
                 if novel is not None and novel.any() else None)
        self._judged = (result, arrived, level)
        model, explains, learn, hold, rejudge, hears, scores = self._calls
        decision = self.detector.step(      # (learn, hold, levels, discord by position: perf51)
            row.ts, result.score, result.tier, model, explains, learn, hold,
            None if self.level is None else self._levels, level, rejudge, hears, scores)
        if faults or self.health.stations.louder:   # (after the alert's step: one opened on this tick hears too)
            tell_alert(self.detector.tracker, faults, self.health.stations.take_louder())
        # The fallback's transition counts see every tick, calm or not, whichever tier scores
        # (NumpyScorer.observe says why).
        self.numpy.observe(self.window)
        if self.recent is not None:
            self.recent.push(self.window.values[-1], self.window.missing[-1], row.ts, decision.calm)
            if self.tier_waits is not None and len(self.recent) >= self.recent.capacity:
                pipeline_state.tier_takes_over(self)
            elif self.profile_waits is not None and len(self.recent) >= self.profile_waits:
                pipeline_state.fit_missing_profile(self, self.profile_waits)
        if learning is not None and learning.observe(heard, decision.calm):
            self._join()                 # (last: the fits made again end with this tick in the window)
        # (by position, in the fields' order: a class called with keywords first builds a dict of them,
        # ~1 µs a tick with these eleven; perf51)
        return TickResult(row.ts, False, result.score, self.detector.threshold(result.tier), result.tier,
                          result.sensor_scores, row.label, row.event, decision.events, faults, result)

    def _join(self) -> None:
        """Sensors learnt live join scoring from the next tick: their mean and spread go into the normaliser and
        the warm-up's fits are made again on the ticks kept while they were learnt (a new fallback: the old one
        never saw them), with the model tiers aligned to the normaliser again (agent/learning_sensors.py)."""
        rows = self.learning.rows
        rows.trim()
        self.numpy = self._new_fallback()
        self.chain.tiers[-1] = self.numpy
        for tier in self.chain.tiers[:-1]:
            tier.align_to(self.normaliser)
        self.normaliser, self.recent, self.learning = end_warmup(
            rows, self.normaliser, self.fitter, sensors=self.sensors, chain=self.chain, numpy=self.numpy,
            detector=self.detector, window=self.window, level=self.level, discord=None,
            fit_fraction=self.cfg.warmup.fit_fraction, held_out=self.cfg.warmup.held_out,
            keep_recent=self._keeps_recent(), learn_need=self.warmup_ticks, joining=self.learning,
            learn_flat=self.cfg.warmup.flat_sensors == "learn")

    # The detector's callables on the tick being judged (`_judged`; made once in __init__: perf54).

    def _model(self) -> dict:
        return self.chain.current.describe()

    def _explain(self) -> dict:
        result = self._judged[0]
        return explain(self.sensors, self.groups, result.sensor_scores, self.window,
                       self.cfg.alerts.top_k)

    def _learn(self) -> None:
        self.chain.learn(self.window, self.detector.calm)

    def _hold(self) -> bool:
        result, _, level = self._judged
        return self.health.holds(result.sensor_scores, judged_at(self.detector.threshold(result.tier), level))

    def _rejudge(self, fault_id: str) -> float:
        return rejudged(self._judged[0], fault_id, self.health, self.numpy)

    def _scores(self) -> dict[str, float]:
        """The tick's sensor scores by name (scoring.profile.residue_fraction, agent/alert_residue.py)."""
        return scores_by_name(self.sensors, self._judged[0].sensor_scores)

    def _unheard(self, names: list[str]) -> str | None:
        return unheard(names, self.index, self._judged[1], self.health)

    def _shift_times(self, delta: float) -> int:
        """Move the times the learned state keeps by `delta` seconds (`shift_times`); the parts moved."""
        return shift_times((self.detector, self.health, self.chain, self.numpy, self.recent), delta)

    def levels_view(self):
        """The `levels` a Detector's step is given (each sensor's level distance from warm-up over the window the
        last tick was scored on, `_levels`), or None when no alert is held on levels (alerts.hold_sigma 0)."""
        return None if self.level is None else self._levels

    def _levels(self) -> dict[str, float]:
        """Each sensor's level distance from warm-up, in σ, over the current window (alerts.hold_sigma)."""
        return dict(zip(self.sensors, self.level.distances(self.window.values, self.window.missing).tolist()))

    def close(self, ts: float, reason: str) -> list[AlertEvent]:
        """End an open alert when the data is over (the daemon's input ended: `shutdown`; an
        evaluation's file: `end of data`) so no one is left with a dangling one. A daemon stopped
        by a signal does not call it: its alert goes on at the next start (service.Agent._at_stop)."""
        # An alert is only ever open after warm-up, so the active tier has its threshold.
        return self.detector.close(ts, self.chain.tier, self.chain.current.describe, reason)

    # -- model update (what agent/hotswap.py's SwapTarget asks of it) ---------------------------

    def model_tiers(self) -> list[str]:
        return [t.TYPE for t in self.chain.tiers[:-1]]

    def active_tier(self) -> str:
        return self.chain.tier

    def model_id(self) -> str | None:
        return self.chain.tiers[0].describe().get("model_id") if len(self.chain.tiers) > 1 else None

    def model_manifest(self) -> dict | None:
        return self.chain.tiers[0].bundle.manifest.to_dict() if len(self.chain.tiers) > 1 else None

    def _keeps_recent(self) -> bool:
        """Whether the recent ticks are kept for a hot swap: a profile configured, and a model chain or a
        `models_dir` a bundle may arrive in. Not the chain alone (user36): an agent that started on the fallback
        (no bundle yet) kept none, so the bundle later delivered into models_dir ran raw, without its profile — its
        alert on a pump's blockage ended `cleared` 59 s in while the blockage went on (the same bundle given at
        start held it open) — and so after every restart."""
        return self.cfg.scoring.profile.enabled and (len(self.chain.tiers) > 1
                                                     or self.cfg.scoring.models_dir is not None)

    def recent_ticks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """A copy of the recent ticks (z, missing, ts, calm; agent/recent_ticks.py), or None when
        none are kept; taken in the tick thread, fitted on in the load's."""
        return None if self.recent is None or not len(self.recent) else self.recent.snapshot()

    def prepare(self, tiers: list[Scorer], recent=None) -> dict[str, AdaptiveThreshold]:
        """Candidate tiers prepared as the tiers given at start were at warm-up, on `recent` (recent_ticks())
        when given (TierFitter.prepare). Returns their thresholds. Touches only the candidate: safe off the
        tick thread."""
        return self.fitter.prepare(tiers, self.normaliser, recent)

    def _prepare_standby(self, standby: StandbyTier):
        """A standby tier loaded when the chain first steps down to it (agent/scorers/standby.py) missed
        warm-up: it is prepared as a hot-swap candidate is (`prepare`), on the ticks it kept — the warm-up's, so
        it is fitted and taught as a tier loaded at start was (its profile and threshold, its threshold's lessons
        from warm-up scores), or at a hot swap the recent ticks its top tier was fitted on (either checkpointed
        until it loads: pipeline_state.standby_state) — else (a checkpoint without them) on the recent ticks
        kept with a profile; without any it has its bundle's threshold, as it had from the start. Called in the
        tick thread (the ticks' copy); what it returns prepares in the load thread, and that installs."""
        recent = standby.ticks if standby.ticks is not None else self.recent_ticks()

        def prepare(scorer: Scorer):
            thresholds = self.prepare([scorer], recent)
            return (lambda: self.detector.add(thresholds)) if recent is not None else None
        return prepare

    def score_beside(self, scorer: Scorer, threshold: float | None = None) -> TickScore:
        """`scorer`'s score of this tick as the tick would give it were it the running tier: blended
        with the fallback's (scoring.blend_numpy; `threshold`: the candidate's own, which the blend
        scales by) and quieted for sensors just back from a fault — else a hot swap's shadow compared
        unlike scores (user9: the running bundle's own copy correlated 0.43 across a 5-min outage of
        the demo's sensors; below 0 in 58 of 173 SKAB shadows, raw beside profiled and blended)."""
        result = scorer.score(self.window)
        weight, fallback = self.cfg.scoring.blend_numpy, self.chain.fallback_score
        if weight > 0 and threshold is not None and fallback is not None:
            # (the fallback's score the tick was blended with: scored again now, it had learned the tick)
            result = blend(result, fallback, threshold, self.detector.threshold("numpy"), weight)
        return self.health.quiet(result)

    def scale_mismatches(self, scorer: Scorer) -> list[str]:
        """The warm-up's unit check of the window's readings against a candidate bundle's normalisation."""
        return scale_mismatches(self.sensors, self.window, self.normaliser, scorer.bundle.manifest.normalisation)

    def scale_judgeable(self) -> bool:
        """Whether that check can judge a sensor: one read at least twice in the window (unit_mismatches' need); none
        while a source is down or a fault's mask holds every sensor (chaos11)."""
        return bool(self.window.filled and ((~self.window.missing).sum(axis=0) >= 2).any())

    def swap(self, tiers: list[Scorer], thresholds: dict[str, AdaptiveThreshold], reason: str) -> None:
        """Put new model tiers (verified, judged in shadow by agent/hotswap.py) in front of numpy,
        between two ticks, with their thresholds. The subsided and residue rules' peaks and floors were the old model's
        scores: forgotten (AlertTracker.new_model_scale)."""
        self.detector.add(thresholds)
        if self.alerts.new_model_scale():
            log.info("model update: the subsided and residue rules' peaks and floors (the old model's scores) are "
                     "forgotten: the new model's residue is judged against its own scores")
        self.tier_waits = self.profile_waits = None     # (waiting after a restart: the swapped-in one is prepared)
        self.chain.replace(tiers + [self.chain.numpy], reason)

    # -- read-only views ----------------------------------------------------------------------

    @property
    def alerts(self) -> AlertTracker:
        return self.detector.tracker

    @property
    def thresholds(self) -> dict[str, AdaptiveThreshold]:
        return self.detector.thresholds

    def snapshot(self) -> dict:
        thr = self.thresholds.get(self.chain.tier)
        return {"tier": self.chain.tier, "scoring": scoring_now(self), "model": self.chain.current.describe(),
                "ticks": self.ticks,
                "warm": self.warm, "threshold": thr.value if thr else None,
                "alerts_raised": self.alerts.raised, "alerts_suppressed": self.alerts.suppressed,
                "alert_active": self.alerts.active, "alert_open": self.alerts.open_summary(),
                "tier_switches": self.chain.switch_count,
                "last_tier_switch": self.chain.switches[-1] if self.chain.switches else None,
                "sensors_flat_at_fit": [] if self.normaliser is None else
                [self.sensors[j] for j in np.flatnonzero(self.normaliser.floored())],
                "sensors_learning": {} if self.learning is None else self.learning.snapshot(),
                **self.health.snapshot()}

    # -- checkpoint and restart (agent/checkpoint.py; agent/pipeline_state.py, pipeline_time.py) --

    @property
    def last_ts(self) -> float | None:
        """The newest tick this pipeline has stepped."""
        if self.warm:
            return float(self.window.ts[-1])
        return float(self.warmup.ts[-1]) if len(self.warmup) else None

    def bundle_identity(self) -> dict | None:
        """The bundle the model tiers run (what a checkpoint must have been taken with), or None."""
        return pipeline_state.bundle_identity(self.chain.tiers[:-1])

    fault_state = staticmethod(pipeline_state.fault_state)

    def state_dict(self) -> dict:
        return pipeline_state.state_of(self)

    def restore(self, state: dict, tier_changed: str | None = None) -> None:
        """Resume from state_dict(). Everything is rebuilt and checked first and swapped in at the
        end, so a state that does not fit raises ValueError/KeyError/TypeError and changes nothing.
        `tier_changed`: the checkpoint was taken with another bundle or `scoring.profile` (why, in words;
        checkpoint.tier_mismatch): all but the model tiers' state is restored, and they are prepared as a
        hot-swapped bundle is (pipeline_state.prepare_restored)."""
        pipeline_state.restore(self, state, tier_changed)

    def refill_window(self, after: float | None = None) -> None:
        """The next T ticks only refill the window, unscored: what it holds is from another time
        (a finished warm-up replay, a clock stepped back since the checkpoint). `after`: the first tick after
        a restart's skipped gap — ticks before it (the restored open ticks, closed before the new data) go
        into the window but do not count, else the first scored window held ticks from before the downtime
        beside the new ones (clock25). Not checkpointed: they close in the same turn as the new data, before
        any checkpoint can be written."""
        if self.warm:
            self.refill = self.window.steps
            self.refill_from = after

    def rebase(self, old_ts: float, new_ts: float) -> list[AlertEvent]:
        """The time base moved back by the data or the host clock (pipeline_time.rebase): the window refills,
        an open alert ends; the events."""
        return pipeline_time.rebase(self, old_ts, new_ts)

    def after_restart(self, ts: float, gap_s: float | None, skipped: bool = False) -> list[AlertEvent]:
        """The first new tick after a restart, `gap_s` seconds unseen (pipeline_time.after_restart): an open
        alert goes on or ends; the events."""
        return pipeline_time.after_restart(self, ts, gap_s, skipped)
