"""Row → window → scorer chain → detector (threshold, alert lifecycle, learning): the per-tick path.

The daemon (service.py) and the evaluator both drive this one class, so what is measured is
what runs. It has no I/O: it returns what happened on each tick. The decision rule itself is
agent/detector.py's, shared with the hot-swap shadow run and the evaluation baselines.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .alerts import AlertEvent, AlertTracker, explain, iso
from .bundle import Expectation
from .detector import Detector
from .discord import DiscordWatch, judged_level
from .digest import sha256
from .faults.events import FaultEvent
from .faults.holdback import ticks_of
from .faults.source import SourceMap
from .faults.tracker import FaultTracker
from .scorers import build_tiers
from .scorers.base import Scorer, TickScore
from .scorers.chain import ScorerChain, blend
from .scorers.numpy_fallback import NumpyScorer
from .scorers.profile import LevelMonitor
from .scorers.standby import StandbyTier
from .recent_ticks import RecentTicks
from .records import span
from .threshold import AdaptiveThreshold, calibrate
from .topology import adjacency, group_of
from .timebase import shift_times
from .warmup import WarmupRows, flat_sensors, unit_mismatches
from .window import Normaliser, Row, WindowBuffer

if TYPE_CHECKING:
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


def _snapshot(x):
    """A rule state as the checkpoint keeps it: numpy scalars as Python's, tuples as lists, keys as strings
    (what a JSON round trip gave), the arrays left whole (a rule's state() gives its own copies)."""
    if isinstance(x, dict):
        return {str(k): _snapshot(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_snapshot(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


class Pipeline:
    def __init__(self, cfg: AgentConfig, tiers: list[Scorer] | None = None, warmup_ticks: int | None = None):
        """`tiers`: model scorers to put in front of numpy; None loads them from the config's bundle.
        `warmup_ticks`: ticks of warm-up (default cfg.warmup.ticks; evaluate trains on each file's
        training part)."""
        self.cfg = cfg
        self.warmup_ticks = cfg.warmup.ticks if warmup_ticks is None else warmup_ticks
        self.specs = cfg.sensor_specs()
        self.sensors = [s.name for s in self.specs]
        self.groups = [group_of(s) for s in self.specs]
        n = len(self.sensors)
        self.numpy = NumpyScorer(n, adjacency(self.specs, cfg.topology), cfg.scoring.numpy, cfg.tick_s,
                                 cfg.window.steps)
        model_tiers = (build_tiers(cfg.scoring, Expectation.from_config(cfg), cfg.alerts.top_k, cfg.base_dir)
                       if tiers is None else list(tiers))
        self.chain = ScorerChain(model_tiers + [self.numpy], cfg.scoring, prepare=self._prepare_standby)
        manifest = next((t.manifest for t in model_tiers if getattr(t, "manifest", None)), None)
        self.normaliser = Normaliser.from_manifest(manifest.normalisation, self.sensors) if manifest else None
        self.detector = Detector(cfg.alerts, cfg.node.id, cfg.node.site, cfg.tick_s,
                                 {t.TYPE: AdaptiveThreshold(cfg.threshold.for_tier(t.TYPE), t.manifest.threshold)
                                  for t in model_tiers},
                                 hold_ticks=cfg.faults.hold_ticks(cfg.tick_s),
                                 fault_ticks=ticks_of(cfg.faults.holdback_s, cfg.tick_s))
        for tier in model_tiers:                 # the on-device normal profile (opt-in), fitted at warm-up
            if hasattr(tier, "set_profile"):
                tier.set_profile(cfg.scoring.profile)
        self.window = WindowBuffer(cfg.window.steps, n)
        # alerts.hold_sigma: an open alert's drivers hold it while their level is off warm-up's (alerts.py)
        self.level = self._new_level()
        self.source_map = SourceMap.of(cfg.sources, self.sensors)    # which source carries which sensor
        self.health = self._new_health()
        self.discord = self._new_discord()      # threshold.discord_ticks: a shape never seen before
        self.warmup = WarmupRows(n, self.warmup_ticks)
        self.warmup_counted = 0     # warm-up ticks or source rows so far (warmup.counts)
        self.refill = 0             # ticks still to push into the window before scoring (after a replay)
        # A hot-swapped bundle's profile is fitted on these (agent/recent_ticks.py); only with a profile.
        self.recent: RecentTicks | None = None
        self.recent_problem: str | None = None     # why the checkpoint's recent ticks were refused (restore)
        self.standby_problem: str | None = None    # why a standby's checkpointed warm-up ticks were refused
        # A restore onto another bundle or profile (`_prepare_restored`): why, while the model tiers wait for
        # the recent ticks to fill (the fallback scores meanwhile), and what became of them, in words.
        self.tier_waits: str | None = None
        self.tier_note: str | None = None
        self.warm = False
        self.ticks = 0

    # -- warm-up ------------------------------------------------------------------------------

    def _finish_warmup(self) -> None:
        raw, missing, ts = self.warmup.values, self.warmup.missing, self.warmup.ts    # views, not copies
        if self.discord is not None:
            for values, fresh in zip(raw, ~missing & ~self.warmup.carried & np.isfinite(raw)):
                self.discord.step(values, fresh)      # its record counts the warm-up's readings too
            values = None                             # (a view: it would keep the raw values)
        fitted_here = self.normaliser is None
        if fitted_here:
            # Labels are never used here: they are ground truth, and the daemon has none.
            self.normaliser = Normaliser.fit(raw)
        elif len(self.chain.tiers) > 1:
            for line in unit_mismatches(self.sensors, raw, missing, self.normaliser):
                log.warning("%s", line)
        for line in flat_sensors(self.sensors, raw, missing, self.normaliser,
                                 "this warm-up" if fitted_here else "the bundle's training data"):
            log.warning("%s", line)
        z = self.normaliser.apply(raw)
        # The raw values are not read again: their memory goes back before the fit, whose
        # temporaries set the run's peak (perf44).
        del raw
        self.warmup.forget_values()
        cut = int(len(z) * self.cfg.warmup.fit_fraction)
        self.numpy.fit(z, missing, ts, fit_rows=cut)
        # Calibrate on every warm-up tick: the fit part's in-sample scores are only slightly
        # optimistic, and a POT fit needs the peaks that a short held-out part would not have.
        scores = self.numpy.batch_scores(z, missing, self.window.steps, ts).max(axis=1)
        own = self.cfg.threshold.for_tier("numpy")         # threshold.numpy: the fallback's own keys
        thr = AdaptiveThreshold(own, calibrate(scores, own))
        thr.seen_block(ts[-len(scores):], scores)          # threshold.recurring_*: the warm-up days count
        self.detector.add({"numpy": thr})
        for tier in self.chain.tiers[:-1]:
            self._teach_warmup(tier, z, missing, ts, self._fit_profile(tier, z, missing, ts))
            if isinstance(tier, StandbyTier) and self._learns_warmup(tier.TYPE):
                tier.keep(z, missing, ts)       # fitted and taught on them when it loads (_prepare_standby)
        if self._keeps_recent():
            self.recent = RecentTicks(len(z), len(self.sensors))
            self.recent.extend(z, missing, ts)
        if self.level is not None and not self.level.fit(z, missing, self.window.steps):
            log.info("too few warm-up ticks for the level that holds alerts (alerts.hold_sigma): no alert is held")
        last = slice(-self.window.steps, None)
        for zr, m, t in zip(z[last], missing[last], ts[last]):
            self.window.push(zr, m, float(t))
        tier = self.chain.tier
        fallback = "" if tier == "numpy" else f" (numpy fallback's {self.detector.threshold('numpy'):.3f})"
        log.info("warm-up done: %d ticks (fit %d, calibrate %d), data time %s; scoring with tier %s, "
                 "threshold %.3f%s", len(z), cut, len(z) - cut, iso(float(ts[-1])), tier,
                 self.detector.threshold(tier), fallback)
        self.warmup.clear()
        self.warm = True

    def _fit_profile(self, tier, z: np.ndarray, missing: np.ndarray, ts: np.ndarray,
                     thresholds: dict[str, AdaptiveThreshold] | None = None, calm: np.ndarray | None = None,
                     ticks: str = "warm-up ticks") -> tuple[np.ndarray, np.ndarray] | None:
        """A model tier's normal profile and its own threshold (into `thresholds`, default the
        detector's), from this plant's ticks (the warm-up's; a hot-swap candidate's: the recent ones,
        `calm` saying which the threshold may be calibrated on); without one (disabled, too few
        ticks, a fault) the tier keeps its bundle's threshold. Returns (scores, their tick ts) the
        threshold was calibrated on, or None."""
        thresholds = self.detector.thresholds if thresholds is None else thresholds
        fit = getattr(tier, "fit_profile", None)
        if fit is None:
            return None
        try:
            scores = fit(z, missing, ts)
        except Exception as exc:  # noqa: BLE001 — a runtime fault at warm-up is the chain's business
            log.warning("%s: no normal profile (%s: %s); keeping the bundle's threshold",
                        tier.TYPE, type(exc).__name__, exc)
            return None
        if scores is None:
            log.info("%s: no normal profile (disabled, or fewer than %d %s); bundle threshold %.3f",
                     tier.TYPE, self.cfg.scoring.profile.min_ticks, ticks, thresholds[tier.TYPE].value)
            return None
        at = ts[-len(scores):]
        if calm is not None:            # a tick the detector did not learn from is no normal score
            kept = calm[-len(scores):]
            scores, at = scores[kept], at[kept]
        own = self.cfg.threshold.for_tier(tier.TYPE)
        thresholds[tier.TYPE] = AdaptiveThreshold(own, calibrate(scores, own))
        log.info("%s: normal profile fitted on %d %s; threshold %.3f",
                 tier.TYPE, len(scores), ticks, thresholds[tier.TYPE].value)
        return scores, at

    def _teach_warmup(self, tier, z: np.ndarray, missing: np.ndarray, ts: np.ndarray,
                      fitted: tuple[np.ndarray, np.ndarray] | None,
                      thresholds: dict[str, AdaptiveThreshold] | None = None) -> None:
        """A model tier's threshold sees the warm-up days' scores, as the fallback's does, when it
        has a use for them (threshold.clock_scale_*, recurring_*, likelihood): `scores`, the
        profile's calibration scores, or else the warm-up scored by the tier as it scores live.
        Without it the tier's clock started empty at the end of warm-up and, with MIN_CYCLES 2,
        first acted two periods after it: on the corridor bench's 1 + 2 days it changed no tick."""
        thr = (self.detector.thresholds if thresholds is None else thresholds)[tier.TYPE]
        if not thr.learns_warmup:
            return
        scores, at = (None, None) if fitted is None else fitted
        if scores is None and hasattr(tier, "warmup_scores"):
            try:
                scores = tier.warmup_scores(z, missing)
            except Exception as exc:  # noqa: BLE001 — as in _fit_profile: the chain handles the tier
                log.warning("%s: the warm-up could not be scored (%s: %s): its threshold's clock and "
                            "recurring level start from the live ticks", tier.TYPE, type(exc).__name__, exc)
                return
            at = None if scores is None else ts[-len(scores):]
        if scores is not None and len(scores):
            thr.seen_block(at, scores)

    def warm_up_from(self, rows: WarmupRows) -> None:
        """Warm up on recorded normal rows (warmup.replay, agent/warmup.py `read_replay`: at most
        its newest `replay_max_ticks`) before live data. A recording shorter than the warm-up is
        topped up by live ticks. After a finished replay the first T live ticks only refill the
        window (the recording's last rows are from another time) and are not scored."""
        self.warmup = rows
        self.warmup_counted = (len(rows) if self.cfg.warmup.counts == "ticks"
                               else int((~rows.missing & ~rows.carried).any(axis=1).sum()))
        missing = max(0, self.warmup_ticks - self.warmup_counted)
        log.info("warm-up from a recording: %d ticks; %s", len(rows),
                 f"{missing} more {self.cfg.warmup.counts} from live data" if missing else "done")
        if not missing:
            self._finish_warmup()
            self.refill_window()

    def _counts(self, row: Row) -> int:
        """1 when this row counts towards the warm-up: every tick, or (warmup.counts: rows) a tick
        that carries at least one fresh reading — a gap tick or a carried-forward one does not."""
        if self.cfg.warmup.counts == "ticks":
            return 1
        return int(bool((~row.missing & ~row.carried).any()))

    # -- per tick -----------------------------------------------------------------------------

    def step(self, row: Row) -> TickResult:
        if row.rebased_from is not None:
            return self._step_rebased(row)
        if row.clock_moved_s is not None:
            return self._step_clock_moved(row)
        self.ticks += 1
        faults = self.health.observe(row)
        row = self.health.mask(row)      # the model and the fallback never see a faulty sensor
        if not self.warm:
            self.warmup.append(row)
            self.warmup_counted += self._counts(row)
            if self.warmup_counted >= self.warmup_ticks:
                self._finish_warmup()
            return TickResult(ts=row.ts, warming=True, label=row.label, event=row.event, faults=faults)
        novel = None if self.discord is None else self.discord.step(
            row.values, ~row.missing & ~row.carried & np.isfinite(row.values))
        if self.refill > 0:
            self.refill -= 1
            self.window.push_raw(row.values, row.missing, row.ts, self.normaliser)
            if self.recent is not None:     # kept as not calm (missing): a window across the join is none the plant made
                self.recent.push(self.window.values[-1], self.window.missing[-1], row.ts, False)
            return TickResult(ts=row.ts, warming=True, label=row.label, event=row.event, faults=faults)
        self.window.push_raw(row.values, row.missing, row.ts, self.normaliser)
        result: TickScore = self.health.quiet(   # no score from a sensor just back
            self.chain.score_blended(self.window, self.detector.threshold))
        level = (judged_level(result.sensor_scores, result.score, novel, self.cfg.alerts.instant_factor)
                 if novel is not None and novel.any() else None)
        decision = self.detector.step(      # (learn, hold, levels, discord by position: perf51)
            row.ts, result.score, result.tier, self.chain.current.describe,
            lambda: explain(self.sensors, self.groups, result.sensor_scores, result.time_weights, self.window,
                            self.cfg.alerts.top_k),
            lambda: self.chain.learn(self.window, self.detector.calm),
            lambda: self.health.holds(result.sensor_scores, self._judged_at(result.tier, level)),
            None if self.level is None else self._levels, level,
            lambda sensor: self._rejudged(result, sensor))
        if faults:          # (after the alert's step: one that opened on this tick hears of them too)
            self._tell_alert(faults)
        # The fallback's transition counts see every tick, calm or not, whichever tier scores
        # (NumpyScorer.observe says why).
        self.numpy.observe(self.window)
        if self.recent is not None:
            self.recent.push(self.window.values[-1], self.window.missing[-1], row.ts, decision.calm)
            if self.tier_waits is not None and len(self.recent) >= self.recent.capacity:
                self._tier_takes_over()
        # (by position, in the fields' order: a class called with keywords first builds a dict of them,
        # ~1 µs a tick with these eleven; perf51)
        return TickResult(row.ts, False, result.score, self.detector.threshold(result.tier), result.tier,
                          result.sensor_scores, row.label, row.event, decision.events, faults, result)

    def _tell_alert(self, faults: list[FaultEvent]) -> None:
        """The alerts hear of each sensor fault raised or ended on this tick (AlertTracker.fault_raised,
        fault_ended)."""
        tracker = self.detector.tracker
        for f in faults:
            if f.kind == "source":
                continue
            if f.event == "fault":
                tracker.fault_raised(f.fault_id, f.sensor, f.kind, f.start)
            else:
                tracker.fault_ended(f.fault_id)

    def _rejudged(self, result: TickScore, sensor: str) -> float:
        """The tick's worst sensor score with `sensor` left out and, when the fallback scored it, its mates'
        fusion part too: fusion predicts each of them from the mean of its neighbours with weights learned on
        all of them, so with one masked it predicts from a relation it never learned (faults4). A sensor no longer
        faulty (its end unseen: a refill tick, a restart) leaves the score as it is."""
        i = self.sensors.index(sensor)
        if not self.health.faulty[i]:
            return float(result.score)
        s = np.nan_to_num(np.array(result.sensor_scores, float), nan=0.0)
        s[i] = 0.0
        if result.tier == "numpy":
            mates = self.health.ctx.context[i]
            s[mates] = np.maximum(s[mates] - self.numpy.fusion_part[mates], 0.0)
        return float(s.max()) if s.size else 0.0

    def _step_rebased(self, row: Row) -> TickResult:
        """The first tick of a time base the data stepped back to (Row.rebased_from, Aligner)."""
        ended = self.rebase(row.rebased_from, row.ts)
        res = self.step(replace(row, rebased_from=None))     # (not changed: the evaluator steps a row per scorer)
        res.alerts[:0] = ended
        res.times_moved_s = self._rebase_delta(row.rebased_from, row.ts)
        return res

    def _step_clock_moved(self, row: Row) -> TickResult:
        """The first tick after a step of this host's clock the data moved with (Row.clock_moved_s, the
        aligner): no time passed, so the times the state keeps move with the step — else every timer on them
        ran out across a step forward (the threshold's quiet time after a peak ended, an alert open since the
        old clock's start was 'accepted', learned as normal: its alert ended `cleared` mid-incident; review22)
        or stood still for as long as a step back. The open alert's `start` moves too: on the corrected clock
        that is when it began. The window and the alert go on (a step back of the data itself: `rebase`)."""
        moved = self._shift_times(row.clock_moved_s)
        log.info("this host's clock step: %d part(s) of the learned state keeping times moved %s with it", moved,
                 span(row.clock_moved_s, signed=True))
        res = self.step(replace(row, clock_moved_s=None))
        res.times_moved_s = row.clock_moved_s     # (a candidate in shadow moves with it: HotSwap.on_tick)
        return res

    def _shift_times(self, delta: float) -> int:
        """Move the times the learned state keeps by `delta` seconds (`shift_times`); the parts moved."""
        return shift_times((self.detector, self.health, self.chain, self.numpy, self.recent), delta)

    def _new_level(self) -> LevelMonitor | None:
        """The unfitted level that holds alerts (alerts.hold_sigma), or None when holding is off."""
        if self.cfg.alerts.hold_sigma <= 0:
            return None
        profile = self.cfg.scoring.profile     # a defaulted `drifting` list leaves the fallback's hold alone (skab34)
        model_tier = None if profile.drifting_given else (lambda: self.chain.tier != "numpy")
        return LevelMonitor(self.sensors, self.cfg.alerts.hold_half_life_ticks, profile.drifting, model_tier)

    def _judged_at(self, tier: str, discord: float | None) -> float:
        """The threshold an alert about to open was judged against (the fault hold-back asks which sensors
        pass it): the tier's, or the discord path's level when that is lower."""
        value = self.detector.threshold(tier)
        return value if discord is None else min(value, discord)

    def _new_discord(self) -> DiscordWatch | None:
        m = self.cfg.threshold.discord_ticks
        return None if m <= 0 else DiscordWatch(len(self.sensors), m)

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
        """Whether the recent ticks are kept for a hot swap: a model chain with a profile configured."""
        return self.cfg.scoring.profile.enabled and len(self.chain.tiers) > 1

    def recent_ticks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """A copy of the recent ticks (z, missing, ts, calm; agent/recent_ticks.py), or None when
        none are kept; taken in the tick thread, fitted on in the load's."""
        return None if self.recent is None or not len(self.recent) else self.recent.snapshot()

    def prepare(self, tiers: list[Scorer], recent=None) -> dict[str, AdaptiveThreshold]:
        """Candidate tiers prepared as the tiers given at start were at warm-up: they read the
        pipeline's window (its normalisation), get `scoring.profile`, and — given `recent`
        (recent_ticks()) — their profile is fitted and their threshold calibrated on this plant's
        recent calm ticks, and taught them (_teach_warmup). Returns their thresholds (the bundle's
        own where nothing was fitted). Touches only the candidate: safe off the tick thread."""
        thresholds = {t.TYPE: AdaptiveThreshold(self.cfg.threshold.for_tier(t.TYPE), t.manifest.threshold)
                      for t in tiers}
        for t in tiers:
            t.align_to(self.normaliser)
            if hasattr(t, "set_profile"):
                t.set_profile(self.cfg.scoring.profile)
        if recent is None:
            return thresholds
        for t in tiers:                 # a standby is prepared when it loads on what its top tier is now (swap3)
            if isinstance(t, StandbyTier):
                t.keep(*recent)
        z, missing, ts, calm = recent
        for t in tiers:
            own = t.rebased(z, missing) if hasattr(t, "rebased") else z    # the bundle's own normalisation
            fitted = self._fit_profile(t, own, missing, ts, thresholds, calm, "recent calm ticks")
            self._teach_warmup(t, z, missing, ts, fitted, thresholds)      # (warmup_scores rebases itself)
        return thresholds

    def _prepare_standby(self, standby: StandbyTier):
        """A standby tier loaded when the chain first steps down to it (agent/scorers/standby.py) missed
        warm-up: it is prepared as a hot-swap candidate is (`prepare`), on the ticks it kept — the warm-up's, so
        it is fitted and taught as a tier loaded at start was (its profile and threshold, its threshold's lessons
        from warm-up scores), or at a hot swap the recent ticks its top tier was fitted on (either checkpointed
        until it loads: `_standby_state`) — else (a checkpoint without them) on the recent ticks kept with a
        profile; without any it has its bundle's threshold, as it had from the start. Called in the tick thread (the ticks' copy); what it returns prepares in the load thread, and that
        installs."""
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
        """The warm-up's unit check (unit_mismatches) of the window's readings against a candidate
        bundle's normalisation: a hot swap has no warm-up (review21)."""
        if self.normaliser is None or not self.window.filled:
            return []
        raw = np.asarray(self.window.values, np.float64) * self.normaliser.std + self.normaliser.mean
        candidate = Normaliser.from_manifest(scorer.bundle.manifest.normalisation, self.sensors)
        return unit_mismatches(self.sensors, raw, np.array(self.window.missing, bool), candidate,
                               readings=f"the last {len(raw)} ticks' readings")

    def swap(self, tiers: list[Scorer], thresholds: dict[str, AdaptiveThreshold], reason: str) -> None:
        """Put new model tiers (verified, judged in shadow by agent/hotswap.py) in front of numpy,
        between two ticks, with their thresholds."""
        self.detector.add(thresholds)
        self.tier_waits = None              # (a tier waiting after a restart: the swapped-in one is prepared)
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
        return {"tier": self.chain.tier, "model": self.chain.current.describe(), "ticks": self.ticks,
                "warm": self.warm, "threshold": thr.value if thr else None,
                "alerts_raised": self.alerts.raised, "alerts_suppressed": self.alerts.suppressed,
                "alert_active": self.alerts.active, "alert_open": self.alerts.open_summary(),
                "tier_switches": self.chain.switch_count,
                "last_tier_switch": self.chain.switches[-1] if self.chain.switches else None,
                "sensors_flat_at_fit": [] if self.normaliser is None else
                [self.sensors[j] for j in np.flatnonzero(self.normaliser.floored())],
                **self.health.snapshot()}

    # -- checkpoint and restart (agent/checkpoint.py) ------------------------------------------

    @property
    def last_ts(self) -> float | None:
        """The newest tick this pipeline has stepped."""
        if self.warm:
            return float(self.window.ts[-1])
        return float(self.warmup.ts[-1]) if len(self.warmup) else None

    def bundle_identity(self) -> dict | None:
        """The bundle the model tiers run (what a checkpoint must have been taken with), or None."""
        tier = next((t for t in self.chain.tiers[:-1] if getattr(t, "bundle", None) is not None), None)
        if tier is None:
            return None
        manifest = json.dumps(tier.bundle.manifest.to_dict(), sort_keys=True).encode()
        return {"model_id": tier.bundle.model_id, "path": str(tier.bundle.path),
                "sha256": sha256(manifest).hexdigest()}

    def _new_health(self) -> FaultTracker:
        cfg = self.cfg
        return FaultTracker(self.specs, cfg.topology, cfg.tick_s, cfg.faults, cfg.node.id, cfg.node.site,
                            reentry_ticks=cfg.window.steps, sources=self.source_map)

    @staticmethod
    def fault_state(tracker: FaultTracker) -> dict:
        """The fault tracker's state as the checkpoint takes it (state_dict's "health")."""
        return _snapshot(tracker.state())

    def state_dict(self) -> dict:
        # The fault tracker (agent/faults), so a fault open at the stop goes on: its rings as arrays, which
        # the checkpoint writes as raw bytes (through JSON numbers 600,000 rows × n of stuck's at 1-ms ticks
        # were 10 MB and seconds to write; perf40).
        health = self.fault_state(self.health)
        state = {"ticks": self.ticks, "warm": self.warm, "alerts": self.alerts.state_dict(),
                 "warmup_counted": self.warmup_counted, "refill": self.refill, "health": health}
        if not self.warm:
            w = self.warmup
            state["warmup"] = {"ts": w.ts, "values": w.values, "missing": w.missing, "carried": w.carried}
            return state
        state.update({
            "normaliser": self.normaliser.state_dict(),
            "numpy": self.numpy.state_dict(),
            "thresholds": {k: thr.state_dict() for k, thr in self.thresholds.items()},
            "window": self.window.state_dict(),
            "models": {t.TYPE: t.state_dict() for t in self.chain.tiers[:-1] if hasattr(t, "state_dict")},
            "level": None if self.level is None else self.level.state_dict(),
            **({} if self.discord is None else {"discord": self.discord.state_dict()}),
            **({} if self.recent is None else {"recent": self.recent.state_dict()}),
            **self._standby_state(),
            # a model tier still waiting for the ring after a restart onto another bundle or profile: it waits on
            # after the next restart too (restored unprepared, it would score without the profile it waits for)
            **({} if self.tier_waits is None else {"tier_waits": self.tier_waits}),
        })
        return state

    def restore(self, state: dict, tier_changed: str | None = None) -> None:
        """Resume from state_dict(). Everything is rebuilt and checked first and swapped in at the
        end, so a state that does not fit raises ValueError/KeyError/TypeError and changes nothing.
        `tier_changed`: the checkpoint was taken with another bundle or `scoring.profile` (why, in words;
        checkpoint.tier_mismatch): all but the model tiers' state is restored, and they are prepared as a
        hot-swapped bundle is (`_prepare_restored`)."""
        n, cfg = len(self.sensors), self.cfg
        waited = state.get("tier_waits")
        if waited is not None and not isinstance(waited, str):
            raise TypeError(f"tier_waits: expected a text, got {type(waited).__name__}")
        tier_changed = tier_changed or waited
        ticks, warm = int(state["ticks"]), state["warm"]
        counted, refill = int(state["warmup_counted"]), int(state["refill"])
        if not isinstance(warm, bool):
            raise ValueError("warm: expected true/false")
        detector = Detector(cfg.alerts, cfg.node.id, cfg.node.site, cfg.tick_s, self.thresholds,
                            hold_ticks=self.detector.tracker.hold_ticks,
                            fault_ticks=self.detector.tracker.fault_ticks)
        detector.tracker.restore(state["alerts"])
        detector.feedback = self.detector.feedback       # operator feedback keeps its own file (agent/feedback.py)
        health = self._new_health()
        if "health" in state:
            health.restore(state["health"])
        if not warm:
            w = state["warmup"]
            ts = np.asarray(w["ts"], np.float64).reshape(-1)
            rows = [Row(ts=float(t), values=np.asarray(v, np.float64), missing=np.asarray(m, bool),
                        carried=np.asarray(c, bool))
                    for t, v, m, c in zip(ts, w["values"], w["missing"], w["carried"])]
            if len(rows) != len(ts) or any(r.values.shape != (n,) or r.missing.shape != (n,)
                                           or r.carried.shape != (n,) for r in rows):
                raise ValueError(f"warmup: rows do not have {n} sensors")
            warmup = WarmupRows(n, max(self.warmup_ticks, len(rows)))
            for row in rows:
                warmup.append(row)
            self.detector, self.ticks, self.warmup, self.warm = detector, ticks, warmup, False
            self.health, self.discord = health, self._new_discord()   # the warm-up rows teach it again
            self.warmup_counted, self.refill = counted, refill
            return
        normaliser = Normaliser.restored(state["normaliser"], n)
        scorer = NumpyScorer(n, adjacency(self.specs, cfg.topology), cfg.scoring.numpy, cfg.tick_s, cfg.window.steps)
        scorer.restore(state["numpy"])
        tiers = {"numpy"} if tier_changed else {t.TYPE for t in self.chain.tiers}    # (else the bundle's)
        detector.add({k: AdaptiveThreshold.restored(cfg.threshold.for_tier(k), st, f"thresholds.{k}")
                      for k, st in state["thresholds"].items() if k in tiers})
        if "numpy" not in detector.thresholds:
            raise ValueError("thresholds.numpy: missing")
        window = WindowBuffer(self.window.steps, n)
        window.restore(state["window"])
        level = None
        if self.level is not None:       # absent in checkpoints written before it existed: no alert held
            level = self._new_level()
            level.restore(state.get("level"), "level")
        discord = self._restore_discord(state.get("discord"))
        recent = self._restore_recent(state.get("recent"), float(window.ts[-1]))
        kept = {} if tier_changed else self._restore_standby(state.get("standby", {}), float(window.ts[-1]))
        if not tier_changed:
            self._restore_models(state.get("models", {}))
        self.normaliser, self.numpy, self.detector, self.window = normaliser, scorer, detector, window
        self.health, self.level, self.discord, self.recent = health, level, discord, recent
        self.chain.tiers[-1] = scorer
        for t, ticks_kept in kept.items():
            t.ticks = ticks_kept
        self.ticks, self.warm = ticks, True
        self.warmup.clear()
        self.warmup_counted, self.refill = counted, refill
        for t in self.chain.tiers[:-1]:
            t.align_to(normaliser)
        self.tier_waits = self.tier_note = None
        if tier_changed:
            self._prepare_restored(tier_changed)

    def _prepare_restored(self, why: str) -> None:
        """The model tiers after a restore from a checkpoint taken with another bundle or profile (`why`): prepared
        as a hot-swapped bundle is (`prepare`) on the checkpoint's recent ticks when the ring is full — a tier
        given at start is fitted on a whole warm-up, and the ring holds as many — else, with a profile to fit, the
        fallback scores and they are prepared once the ring has filled with live ticks (`tier_waits`, `step`);
        without a profile there is nothing to fit: they score at once with their bundle's threshold, as at the end
        of a warm-up. Said in `tier_note` (the log, health's checkpoint_at_start)."""
        tiers = self.chain.tiers[:-1]
        names = "/".join(t.TYPE for t in tiers)
        ring = self.recent
        if not tiers:
            self.tier_note = f"{why}: no model tier now; the fallback's state resumed"
            return
        if ring is None or len(ring) >= ring.capacity:
            self.detector.add(self.prepare(tiers, None if ring is None else self.recent_ticks()))
            self.tier_note = (f"{why}: the model tier ({names}) prepared again on " +
                              ("nothing (no scoring.profile to fit)" if ring is None else
                               f"the checkpoint's {len(ring)} recent ticks") + ", scoring from the first tick")
            return
        self.tier_waits = why
        left = ring.capacity - len(ring)
        self.tier_note = (f"{why}: the fallback (numpy) scores until {left} more ticks ({span(left * self.cfg.tick_s)}) "
                          f"have filled the recent ticks (the checkpoint held {len(ring)} of {ring.capacity}); the "
                          f"model tier ({names}) is then prepared on them and takes over")
        self.chain.wait_below(f"model tier prepared after {left} more ticks (a restart onto {why})")

    def _tier_takes_over(self) -> None:
        """The recent ticks have filled since a restore onto another bundle or profile (`_prepare_restored`):
        the model tiers are prepared on them and take over from the fallback."""
        tiers = self.chain.tiers[:-1]
        self.detector.add(self.prepare(tiers, self.recent_ticks()))
        why, self.tier_waits = self.tier_waits, None
        self.chain.replace(self.chain.tiers, f"prepared on {len(self.recent)} recent ticks after a restart onto {why}")

    def _restore_discord(self, state) -> DiscordWatch | None:
        """The discord watch (threshold.discord_ticks) as checkpointed; a checkpoint without one (written
        with it off) or for another length starts it afresh: its record is set again by its first
        discords (MIN_DISCORDS), so nothing alerts on the refilling history."""
        discord = self._new_discord()
        if discord is None:
            return None
        if not isinstance(state, dict) or state.get("m") != discord.m or state.get("history") != discord.history:
            log.info("threshold.discord_ticks: no discord state for m=%d in the checkpoint; it starts afresh", discord.m)
            return discord
        discord.restore(state, "discord")
        return discord

    def _restore_recent(self, state, last_ts: float) -> RecentTicks | None:
        """The recent ticks a hot swap is fitted on, as checkpointed (agent/recent_ticks.py), when this
        pipeline keeps them. A checkpoint without them (written before they were checkpointed) gives an
        empty ring, filled by the live ticks; a ring that does not fit is refused on its own — said here
        and in `recent_problem` (the restart's health detail) — and starts empty: it only prepares a
        candidate, and the rest of the state is as good without it."""
        self.recent_problem = None
        if not self._keeps_recent():
            return None
        n = len(self.sensors)
        empty = RecentTicks(self.recent.capacity if self.recent else self.warmup_ticks, n)
        if state is None:
            log.info("the checkpoint holds no recent ticks: a model swapped in before %d calm ticks have come "
                     "fits no normal profile", self.cfg.scoring.profile.min_ticks)
            return empty
        try:
            return RecentTicks.restored(state, n, last_ts)
        except (ValueError, KeyError, TypeError) as exc:
            self.recent_problem = f"its recent ticks refused ({type(exc).__name__}: {exc})"
            log.warning("checkpoint: %s; the rest is restored, the recent ticks start empty (a model swapped in "
                        "before %d calm ticks have come fits no normal profile)", self.recent_problem,
                        self.cfg.scoring.profile.min_ticks)
            return empty

    def _learns_warmup(self, tier: str) -> bool:
        """Whether model tier `tier` learns from the warm-up's ticks (its profile is fitted on them, or its
        threshold learns from their scores): a standby keeps them then, to be prepared as a loaded tier was."""
        return self.cfg.scoring.profile.enabled or self.thresholds[tier].learns_warmup

    def _standby_state(self) -> dict:
        """The ticks kept by the standby tiers not loaded yet (agent/scorers/standby.py), under "standby"; none
        kept (the shipped demo: nothing learns from warm-up), no key."""
        kept = {t.TYPE: t.kept_state() for t in self.chain.tiers[:-1] if isinstance(t, StandbyTier)}
        kept = {k: v for k, v in kept.items() if v is not None}
        return {"standby": kept} if kept else {}

    def _restore_standby(self, state, last_ts: float) -> dict:
        """The ticks each standby tier kept, as checkpointed, checked (StandbyTier.kept_from): {tier: ticks}, set
        by `restore` once the rest is in. A checkpoint without them (written before they were checkpointed) leaves
        a standby that would keep them to be fitted on the recent ticks when it loads, as before; ticks that do not
        fit are refused on their own — said here and in `standby_problem` (the restart's health detail) — and the
        rest of the state restored (as the recent ticks are: `_restore_recent`)."""
        self.standby_problem = None
        standbys = [t for t in self.chain.tiers[:-1] if isinstance(t, StandbyTier)]
        kept = {t: None for t in standbys}
        for t in standbys:
            try:
                if not isinstance(state, dict):
                    raise TypeError(f"standby: expected a mapping, got {type(state).__name__}")
                if t.TYPE not in state:
                    if self._learns_warmup(t.TYPE):
                        log.info("the checkpoint holds no warm-up ticks for the %s tier on standby: if it loads, it "
                                 "is fitted on the recent ticks", t.TYPE)
                    continue
                kept[t] = t.kept_from(state[t.TYPE], len(self.sensors), last_ts)
            except (ValueError, KeyError, TypeError) as exc:
                why = f"the {t.TYPE} standby's warm-up ticks refused ({type(exc).__name__}: {exc})"
                self.standby_problem = why if self.standby_problem is None else f"{self.standby_problem}; {why}"
                log.warning("checkpoint: %s; the rest is restored (if it loads, it is fitted on the recent ticks)", why)
        return kept

    def _restore_models(self, models: dict) -> None:
        """The model tiers' states, all or none: each tier checks its own before changing anything, but
        they are restored one after another, so when one does not fit those before it get back their own."""
        done = []
        try:
            for t in self.chain.tiers[:-1]:
                if t.TYPE in models and hasattr(t, "restore"):
                    before = t.state_dict()
                    t.restore(models[t.TYPE])
                    done.append((t, before))
        except Exception:
            for t, before in reversed(done):
                t.restore(before)
            raise

    def refill_window(self) -> None:
        """The next T ticks only refill the window, unscored: what it holds is from another time
        (a finished warm-up replay, a clock stepped back since the checkpoint)."""
        if self.warm:
            self.refill = self.window.steps

    def rebase(self, old_ts: float, new_ts: float) -> list[AlertEvent]:
        """The time base moved back (the data stepped back, Aligner; or the host clock, since the
        checkpoint was written): `old_ts` the last tick of the old base, `new_ts` the first of the new.
        The learned state is kept; the window refills before the next score; an open alert ends
        ('restart', its gap unknown); state that holds times of the old base is moved with it, as
        if the new base continued the old one — else a clock compared with it (a fault's hold, the
        threshold's quiet time) would stand still for as long as the step. The alert ends first, on
        the old base's last tick: its `end` event keeps the `start` its `new` published, and its `end`
        and `ts` are times of the base it was judged on (moved, they named times before the alert began;
        on the new base's first tick, `ts` would precede `start`)."""
        self.refill_window()
        # (the hot swap's recent ticks are kept, moved with the rest below: the refill's ticks go in not calm,
        # so no window across the join is fitted on — emptied, a swap soon after ran raw; review23)
        ended = self.after_restart(old_ts, None)
        delta = self._rebase_delta(old_ts, new_ts)
        if delta is not None:
            self._shift_times(delta)
        return ended

    def _rebase_delta(self, old_ts: float, new_ts: float) -> float | None:
        """The seconds `rebase` moves the learned state's times by (None: it moves none)."""
        delta = new_ts - self.cfg.tick_s - old_ts
        return delta if delta < 0 else None

    def after_restart(self, ts: float, gap_s: float | None, skipped: bool = False) -> list[AlertEvent]:
        """The first new tick after a restart; `gap_s`: seconds of ticks the restored state has not seen
        (None: unknown, the clock was stepped back). An open alert is continued — its next event says
        the gap — unless the gap is longer than the window or unknown: nothing of what raised it is
        left to judge it by, so it ends ('restart'). `skipped`: the aligner skips those ticks (live data
        after the agent's own downtime: no outage rows); a gap longer than the window then refills it
        before the next score, which would otherwise join ticks from before the downtime to the new
        ones as if adjacent. (Closed as an outage instead — a recording, or no live data within the
        aligner's wait — the window holds the outage's rows: the data is scored at once.)
        The gap is compared in whole ticks: a difference of epoch stamps on a 0.1-s tick is a few ulps
        off, and a gap of exactly the window would be 'longer' or not by the second it happened."""
        longer = gap_s is None or round(gap_s / self.cfg.tick_s) > self.window.steps
        if longer and skipped:
            self.refill_window()
        if not self.alerts.active:
            return []
        if longer:
            thr = self.thresholds[self.chain.tier]
            return [self.alerts.end_at_restart(ts, thr.value, self.chain.tier, self.chain.current.describe, gap_s)]
        self.alerts.resumed(gap_s)
        return []
