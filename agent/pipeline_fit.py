"""Fitting on this plant's own ticks: the warm-up's end, and model tiers prepared the same way later.

Why this is a seam of the pipeline (agent/pipeline.py): what a model tier is fitted on changes — the
warm-up's ticks at start; the recent calm ticks for a hot-swap candidate, a standby tier loaded late, a tier
restored onto another bundle or profile — but how must not: its normal profile, its own threshold calibrated
on the profile's scores — those of the ticks its bundle was not trained on (agent/held_out_ticks.py) —, that
threshold taught the ticks' scores. A tier prepared later that was fitted
otherwise would judge unlike one prepared at start. Every path goes through one TierFitter, which holds
only the two config blocks it reads; nothing here keeps tick state or does I/O.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .alerts import iso
from .held_out_ticks import held_out
from .learning_sensors import LearningSensors
from .recent_ticks import RecentTicks
from .scorers.profile import ticks_to_fit, too_few
from .scorers.standby import StandbyTier
from .threshold import AdaptiveThreshold, calibrate
from .warmup import NOT_ITS_SCALE, PLANT_OFF, PlantOff, WarmupRows, flat_sensors, unit_mismatches
from .window import Normaliser

if TYPE_CHECKING:
    from .config import ThresholdConfig
    from .detector import Detector
    from .discord import DiscordWatch
    from .manifest import Normalisation
    from .scorers.base import Scorer
    from .scorers.chain import ScorerChain
    from .scorers.numpy_fallback import NumpyScorer
    from .scorers.profile import LevelMonitor, ProfileConfig
    from .window import WindowBuffer

log = logging.getLogger("stad.pipeline")     # (the pipeline's own lines, as before the split)


class TierFitter:
    """A model tier's profile and threshold from this plant's ticks (`threshold`: the config's threshold
    block, each tier's own keys through for_tier; `profile`: scoring.profile; `tick_s`, `steps`: the config's tick
    and window, which place a bundle's training rows in data time and say how many ticks a profile needs;
    `simulated`: held_out_ticks.simulations)."""

    def __init__(self, threshold: ThresholdConfig, profile: ProfileConfig, tick_s: float, steps: int,
                 simulated: frozenset = frozenset()):
        self.threshold = threshold
        self.profile = profile
        self.tick_s = tick_s
        self.steps = steps
        self.simulated = simulated
        # tier type -> how its last fit went, for the start banner (firstscreen.profile_line; user32): "fitted",
        # "in-sample" (only its bundle's training rows to fit on) or "none: why" (it kept its bundle's threshold)
        self.last_fit: dict[str, str] = {}

    def bundle_thresholds(self, tiers: list[Scorer]) -> dict[str, AdaptiveThreshold]:
        """Each tier's threshold as its bundle ships it, under the tier's own threshold keys."""
        return {t.TYPE: AdaptiveThreshold(self.threshold.for_tier(t.TYPE), t.manifest.threshold) for t in tiers}

    def learns_warmup(self, thr: AdaptiveThreshold) -> bool:
        """Whether a model tier with threshold `thr` learns from the warm-up's ticks (its profile is fitted on
        them, or its threshold learns from their scores): a standby keeps them then, to be prepared as a loaded
        tier was."""
        return self.profile.enabled or thr.learns_warmup

    def fit_profile(self, tier, z: np.ndarray, missing: np.ndarray, ts: np.ndarray,
                    thresholds: dict[str, AdaptiveThreshold], calm: np.ndarray | None = None,
                    ticks: str = "warm-up ticks") -> tuple[np.ndarray, np.ndarray] | None:
        """A model tier's normal profile and its own threshold (into `thresholds`), from this plant's ticks
        (the warm-up's; a hot-swap candidate's: the recent ones, `calm` saying which the threshold may be
        calibrated on); without one (disabled, too few ticks, a fault) the tier keeps its bundle's
        threshold. The ticks its bundle was trained on are not calibrated on (`held_out_calm`). Returns (scores,
        their tick ts) the threshold was calibrated on, or None."""
        fit = getattr(tier, "fit_profile", None)
        if fit is None:
            return None
        if self.profile.enabled:
            calm = self.held_out_calm(tier, ts, calm, ticks)
        try:
            scores = fit(z, missing, ts)
        except Exception as exc:  # noqa: BLE001 — a runtime fault at warm-up is the chain's business
            log.warning("%s: no normal profile (%s: %s); keeping the bundle's threshold",
                        tier.TYPE, type(exc).__name__, exc)
            self.last_fit[tier.TYPE] = f"none: {type(exc).__name__} in its fit"
            return None
        if scores is None:
            # which of the two (user30: "disabled, or fewer than 100 warm-up ticks" after 172,800 of them)
            why = "scoring.profile.enabled is false" if not self.profile.enabled else (
                self.too_few(len(z), ticks) or f"a sensor read on too few of the {len(z)} {ticks}: a profile is "
                f"fitted on {ticks_to_fit(self.profile, self.steps)}, each sensor read")
            log.info("%s: no normal profile (%s); bundle threshold %.3f", tier.TYPE, why, thresholds[tier.TYPE].value)
            self.last_fit[tier.TYPE] = f"none: {why}"
            return None
        at = ts[-len(scores):]
        if calm is not None:            # a tick the detector did not learn from is no normal score
            kept = calm[-len(scores):]
            scores, at = scores[kept], at[kept]
        own = self.threshold.for_tier(tier.TYPE)
        thresholds[tier.TYPE] = AdaptiveThreshold(own, calibrate(scores, own))
        log.info("%s: normal profile fitted on %d %s; threshold %.3f",
                 tier.TYPE, len(scores), ticks, thresholds[tier.TYPE].value)
        if self.last_fit.get(tier.TYPE) != "in-sample":     # (held_out_calm said so just before)
            self.last_fit[tier.TYPE] = "fitted"
        return scores, at

    def too_few(self, held: int, ticks: str) -> str | None:
        """Why `held` ticks are too few to fit a profile on, in the words every start line uses; None when they
        are not (user40: the warm-up said `a sensor read on fewer than 100 warm-up ticks` of 80 read on every one,
        a restore `fewer than the 132`, where 146 is the rule: `ticks_to_fit`)."""
        return too_few(self.profile, self.steps, held, ticks)

    def held_out_calm(self, tier, ts: np.ndarray, calm: np.ndarray | None, ticks: str) -> np.ndarray | None:
        """`calm` less the ticks the tier's bundle was trained on (its manifest's data.segments:
        agent/held_out_ticks.py), said; with too few others left, `calm` as it was: fitted on all, said.

        Too few left, the in-sample fit against the bundle's own threshold and residual scale without a profile
        (docs/measured/first-week.md, "The calib1 round"): on user31's pump1 warmed up on its training rows alone,
        the bundle's own raised no alert before day 7's event where the in-sample 4.567 raised 6; but on SKAB's dev
        files, its bundle's training rows mapped onto the warm-ups' own times (each warm-up then ~295 training rows
        and ~126 others), without the profile the tier caught 5 of 8 events (F1 0.61) where the in-sample fit
        catches 8 (0.89). A missed event costs more than a false alert: the fit stays, said.

        The bound is what a profile needs (`profile.min_ticks` after a window's context). A lower one (30 or 60: every
        SKAB dev warm-up then calibrates on its ~126 held-out ticks) was judged by a rule committed first and not
        taken: the default's dev FAR rose 2.62 → 2.71 % (docs/measured/accuracy-skab.md, "The skab49 round")."""
        least = self.profile.min_ticks + self.steps
        data = getattr(getattr(tier, "manifest", None), "data", None)
        kept, taken, left = held_out(ts, calm, data, self.tick_s, least, self.simulated)
        self.last_fit.pop(tier.TYPE, None)
        if taken and kept is not calm:
            log.info("%s: %d of the %s are rows its bundle was trained on (its manifest's data.segments): its "
                     "threshold is calibrated on the %d calm ones it was not", tier.TYPE, taken, ticks, left)
        elif taken:
            log.warning("%s: %d of the %s are rows its bundle was trained on and only %d calm ones are not (%d "
                        "needed): fitted on all of them, its threshold in-sample and likely low (false alerts; a "
                        "hot swap's rejection in shadow); a SIGHUP once live ticks have come fits it again on them",
                        tier.TYPE, taken, ticks, left, least)
            self.last_fit[tier.TYPE] = "in-sample"
        return kept

    def teach(self, tier, z: np.ndarray, missing: np.ndarray, ts: np.ndarray,
              fitted: tuple[np.ndarray, np.ndarray] | None, thresholds: dict[str, AdaptiveThreshold]) -> None:
        """A model tier's threshold sees the warm-up days' scores, as the fallback's does, when it
        has a use for them (threshold.clock_scale_*, recurring_*, likelihood): `fitted`, the
        profile's calibration scores, or else the warm-up scored by the tier as it scores live.
        Without it the tier's clock started empty at the end of warm-up and, with MIN_CYCLES 2,
        first acted two periods after it: on the corridor bench's 1 + 2 days it changed no tick."""
        thr = thresholds[tier.TYPE]
        if not thr.learns_warmup:
            return
        scores, at = (None, None) if fitted is None else fitted
        if scores is None and hasattr(tier, "warmup_scores"):
            try:
                scores = tier.warmup_scores(z, missing)
            except Exception as exc:  # noqa: BLE001 — as in fit_profile: the chain handles the tier
                log.warning("%s: the warm-up could not be scored (%s: %s): its threshold's clock and "
                            "recurring level start from the live ticks", tier.TYPE, type(exc).__name__, exc)
                return
            at = None if scores is None else ts[-len(scores):]
        if scores is not None and len(scores):
            thr.seen_block(at, scores)

    def prepare(self, tiers: list[Scorer], normaliser: Normaliser | None, recent=None,
                ticks: str = "recent calm ticks") -> dict[str, AdaptiveThreshold]:
        """Tiers prepared as the tiers given at start were at warm-up: they read the pipeline's window
        (`normaliser`, its normalisation), get `scoring.profile`, and — given `recent` (z, missing, ts, calm:
        Pipeline.recent_ticks()) — their profile is fitted and their threshold calibrated on this plant's
        recent calm ticks (`ticks` names them in the log: a restart's may be warmup.replay's), and taught them
        (`teach`). Returns their thresholds (the bundle's own where nothing was fitted). Touches only the tiers
        given: safe off the tick thread for a candidate."""
        thresholds = self.bundle_thresholds(tiers)
        for t in tiers:
            t.align_to(normaliser)
            if hasattr(t, "set_profile"):
                t.set_profile(self.profile)
        if recent is None:
            return thresholds
        for t in tiers:                 # a standby is prepared when it loads on what its top tier is now (swap3)
            if isinstance(t, StandbyTier):
                t.keep(*recent)
        z, missing, ts, calm = recent
        for t in tiers:
            own = t.rebased(z, missing) if hasattr(t, "rebased") else z    # the bundle's own normalisation
            fitted = self.fit_profile(t, own, missing, ts, thresholds, calm, ticks)
            self.teach(t, z, missing, ts, fitted, thresholds)      # (warmup_scores rebases itself)
        return thresholds


def end_warmup(rows: WarmupRows, normaliser: Normaliser | None, fitter: TierFitter, *, sensors: list[str],
               chain: ScorerChain, numpy: NumpyScorer, detector: Detector, window: WindowBuffer,
               level: LevelMonitor | None, discord: DiscordWatch | None, fit_fraction: float,
               held_out: str, keep_recent: bool,
               learn_need: int = 0, learn_flat: bool = False,
               joining: LearningSensors | None = None) -> tuple[Normaliser, RecentTicks | None, LearningSensors | None]:
    """The warm-up's end (Pipeline._finish_warmup): the discord watch sees the warm-up's readings; the
    normaliser is fitted on them (or, a bundle's, checked against them: units, flat sensors); the fallback
    is fitted on the first `fit_fraction` and its threshold calibrated on every tick (the rest scored by the fitted
    model, or with `held_out` live as live ticks, each then learned); each model tier's
    profile and threshold are fitted (`fitter`) and a standby that learns from warm-up keeps the ticks;
    the level that holds alerts is fitted; the window gets the last T ticks. A sensor a normalisation fitted here
    learnt no normal for (agent/learning_sensors.py; `learn_need` > 0: the calm reads it needs live; `learn_flat`: one read as one
    constant too) is missing
    to every fit and named once; `joining`: such sensors learnt live, some now ready — `rows` are the ticks kept
    while they were learnt, `normaliser` takes the ready ones' mean and spread (the others' as they were), and
    the fits are made again on them. Returns the normaliser, the recent ticks a hot swap is fitted on (`keep_recent`,
    else None) and the sensors learnt live (None: none). `rows` is cleared."""
    raw, missing, ts = rows.values, rows.missing, rows.ts    # views, not copies
    if discord is not None:
        for values, fresh in zip(raw, ~missing & ~rows.carried & np.isfinite(raw)):
            discord.step(values, fresh)      # its record counts the warm-up's readings too
        values = None                        # (a view: it would keep the raw values)
    fitted_here = normaliser is None
    learning = None
    if joining is not None:
        learning = joining.join_into(normaliser, raw, missing, iso(float(ts[-1])))
    elif fitted_here:
        # Labels are never used here: they are ground truth, and the daemon has none.
        normaliser = Normaliser.fit(raw)
        if learn_need > 0:
            learning = LearningSensors.at_warmup_end(sensors, raw, missing, normaliser, learn_need, window.steps,
                                                     learn_flat)
    elif len(chain.tiers) > 1:
        for line in unit_mismatches(sensors, raw, missing, normaliser):
            log.warning("%s", line)
    if learning is not None and joining is None:
        for line in learning.said():
            log.warning("%s", line)
    if joining is None:                          # (flat ones not learnt live: warmup.flat_sensors score)
        for line in flat_sensors(sensors, raw, missing, normaliser,
                                 "this warm-up" if fitted_here else "the bundle's training data",
                                 skip=None if learning is None else learning.mask_of):
            log.warning("%s", line)
    if learning is not None:
        missing = missing | learning.mask_of     # every fit sees them missing (a copy: the rows' own stay)
    z = normaliser.apply(raw)
    # The raw values are not read again: their memory goes back before the fit, whose
    # temporaries set the run's peak (perf44).
    del raw
    rows.forget_values()
    cut = int(len(z) * fit_fraction)
    # a sensor flat here is read by its neighbours' fusion only within what this warm-up saw of it (fusion.py)
    numpy.fusion.bound_inputs(z, missing, normaliser.floored())
    # Calibrate on every warm-up tick: the fit part's in-sample scores are only slightly
    # optimistic, and a POT fit needs the peaks that a short held-out part would not have.
    if held_out == "live":      # the held-out part scored as live ticks are, each then learned (warmup.held_out;
        numpy.fit(z[:cut], missing[:cut], ts[:cut])    # NumpyScorer.live_tick_scores says why: qa45)
        scores = np.concatenate([numpy.batch_tick_scores(z[:cut], missing[:cut], window.steps, ts[:cut]),
                                 numpy.live_tick_scores(z, missing, ts, cut, window.steps)])
    else:
        numpy.fit(z, missing, ts, fit_rows=cut)
        scores = numpy.batch_tick_scores(z, missing, window.steps, ts)    # (each row's max: no (rows, n) matrix)
    own = fitter.threshold.for_tier("numpy")         # threshold.numpy: the fallback's own keys
    thr = AdaptiveThreshold(own, calibrate(scores, own))
    thr.seen_block(ts[-len(scores):], scores)          # threshold.recurring_*: the warm-up days count
    detector.add({"numpy": thr})
    for tier in chain.tiers[:-1]:
        fitter.teach(tier, z, missing, ts, fitter.fit_profile(tier, z, missing, ts, detector.thresholds),
                     detector.thresholds)
        if isinstance(tier, StandbyTier) and fitter.learns_warmup(detector.thresholds[tier.TYPE]):
            tier.keep(z, missing, ts)       # fitted and taught on them when it loads (Pipeline._prepare_standby)
    recent = None
    if keep_recent:
        recent = RecentTicks(len(z), len(sensors))
        recent.extend(z, missing, ts)
    if level is not None and not level.fit(z, missing, window.steps):
        log.info("too few warm-up ticks for the level that holds alerts (alerts.hold_sigma): no alert is held")
    last = slice(-window.steps, None)
    for zr, m, t in zip(z[last], missing[last], ts[last]):
        window.push(zr, m, float(t))
    tier = chain.tier
    fallback = "" if tier == "numpy" else f" (numpy fallback's {detector.threshold('numpy'):.3f})"
    log.info("warm-up done: %d ticks (fit %d, calibrate %d), data time %s; scoring with tier %s, "
             "threshold %.3f%s", len(z), cut, len(z) - cut, iso(float(ts[-1])), tier,
             detector.threshold(tier), fallback)
    rows.clear()
    return normaliser, recent, learning


def scale_mismatches(sensors: list[str], window: WindowBuffer, normaliser: Normaliser | None,
                     candidate: Normalisation) -> list[str]:
    """The warm-up's unit check (unit_mismatches) of the window's readings against a candidate
    bundle's normalisation (`candidate`, its manifest's): a hot swap has no warm-up (review21)."""
    if normaliser is None or not window.filled:
        return []
    raw = np.asarray(window.values, np.float64) * normaliser.std + normaliser.mean
    missing = np.array(window.missing, bool)
    readings = f"the last {len(raw)} ticks' readings"
    theirs = unit_mismatches(sensors, raw, missing, Normaliser.from_manifest(candidate, sensors), readings=readings)
    ours = {line.split(":", 1)[0] for line in unit_mismatches(sensors, raw, missing, normaliser)}
    return [PlantOff(line.replace(NOT_ITS_SCALE, PLANT_OFF)) if line.split(":", 1)[0] in ours else line
            for line in theirs]
