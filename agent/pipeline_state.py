"""The pipeline's checkpointed state: what `Pipeline.state_dict` writes and `Pipeline.restore` puts back.

Why this is a seam of the pipeline (agent/pipeline.py): a restore is not a tick. It rebuilds every part
from the checkpoint and checks it before any is swapped in, so a state that does not fit changes nothing;
some parts may be refused on their own (the recent ticks, a standby's warm-up ticks) and the rest kept;
and a checkpoint taken with another bundle or profile resumes all but the model tiers, which are prepared
again (pipeline_fit.TierFitter) at once — on the checkpoint's recent ticks, or on `warmup.replay` when those
are too few (`tier_from_replay`) — or once the recent ticks have filled. A checkpoint is the whole
pipeline's state, so `state_of` and `restore` take the pipeline; each part is read back by a function
given only what that part needs.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

import numpy as np

from .discord import DiscordWatch
from .learning_sensors import LearningSensors
from .faults.tracker import FaultTracker
from .records import span
from .recent_ticks import RecentTicks
from .scorers.profile import ticks_to_fit
from .scorers.standby import StandbyTier
from .threshold import AdaptiveThreshold
from .warmup import WarmupRows
from .window import Normaliser, Row, WindowBuffer

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .scorers.base import Scorer

log = logging.getLogger("stad.pipeline")     # (the pipeline's own lines, as before the split)


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


def fault_state(tracker: FaultTracker) -> dict:
    """The fault tracker's state as the checkpoint takes it (state_of's "health")."""
    return _snapshot(tracker.state())


def bundle_identity(tiers: list[Scorer]) -> dict | None:
    """The bundle the model tiers run (what a checkpoint must have been taken with: its fingerprint), or None:
    `sha256` of its manifest as parsed (what the checkpoint is matched on); since swap11 also `manifest_sha256`, of
    manifest.json's bytes as loaded (what a restart's line names: `sha256sum manifest.json`), and `model_sha256`,
    of what the model tier's state is fitted for (Bundle.model_digest: a manifest rewritten with the model the same
    carries it). A checkpoint without the two (an earlier release's) loads: agent/checkpoint.py `mismatch`."""
    tier = next((t for t in tiers if getattr(t, "bundle", None) is not None), None)
    if tier is None:
        return None
    bundle = tier.bundle
    return {"model_id": bundle.model_id, "path": str(bundle.path), "sha256": bundle.parsed_digest,
            "manifest_sha256": bundle.manifest_sha256, "model_sha256": bundle.model_digest}


def state_of(p: Pipeline) -> dict:
    """Pipeline.state_dict: while warming, the warm-up's rows; once warm, every learned part."""
    # The fault tracker (agent/faults), so a fault open at the stop goes on: its rings as arrays, which
    # the checkpoint writes as raw bytes (through JSON numbers 600,000 rows × n of stuck's at 1-ms ticks
    # were 10 MB and seconds to write; perf40).
    health = fault_state(p.health)
    state = {"ticks": p.ticks, "warm": p.warm, "alerts": p.alerts.state_dict(),
             "warmup_counted": p.warmup_counted, "refill": p.refill, "health": health}
    if not p.warm:
        w = p.warmup
        state["warmup"] = {"ts": w.ts, "values": w.values, "missing": w.missing, "carried": w.carried}
        return state
    state.update({
        "normaliser": p.normaliser.state_dict(),
        "numpy": p.numpy.state_dict(),
        "thresholds": {k: thr.state_dict() for k, thr in p.thresholds.items()},
        "window": p.window.state_dict(),
        "models": {t.TYPE: t.state_dict() for t in p.chain.tiers[:-1] if hasattr(t, "state_dict")},
        "level": None if p.level is None else p.level.state_dict(),
        **({} if p.discord is None else {"discord": p.discord.state_dict()}),
        **({} if p.recent is None else {"recent": p.recent.state_dict()}),
        **standby_state(p.chain.tiers[:-1]),
        # a model tier still waiting for the ring after a restart onto another bundle or profile: it waits on
        # after the next restart too (restored unprepared, it would score without the profile it waits for)
        **({} if p.tier_waits is None else {"tier_waits": p.tier_waits}),
        # sensors still learnt live (agent/learning_sensors.py): absent when none, as before them
        **({} if p.learning is None else {"learning": p.learning.state_dict()}),
    })
    return state


def restore(p: Pipeline, state: dict, tier_changed: str | None = None) -> None:
    """Pipeline.restore: every part rebuilt and checked first and swapped into `p` at the end."""
    n, cfg = len(p.sensors), p.cfg
    waited = state.get("tier_waits")
    if waited is not None and not isinstance(waited, str):
        raise TypeError(f"tier_waits: expected a text, got {type(waited).__name__}")
    tier_changed = tier_changed or waited
    ticks, warm = int(state["ticks"]), state["warm"]
    counted, refill = int(state["warmup_counted"]), int(state["refill"])
    if not isinstance(warm, bool):
        raise ValueError("warm: expected true/false")
    detector = p.new_detector(p.thresholds)
    detector.tracker.restore(state["alerts"])
    if tier_changed:        # the model tier prepared again: its scores on another scale than the residue rule's state
        detector.tracker.new_model_scale()
    detector.feedback = p.detector.feedback       # operator feedback keeps its own file (agent/feedback.py)
    health = p._new_health()
    if "health" in state:
        health.restore(state["health"])
    if not warm:
        warmup = warmup_rows(state["warmup"], n, p.warmup_ticks)
        p.detector, p.ticks, p.warmup, p.warm = detector, ticks, warmup, False
        p.health, p.discord = health, p._new_discord()   # the warm-up rows teach it again
        p.warmup_counted, p.refill = counted, refill
        return
    normaliser = Normaliser.restored(state["normaliser"], n)
    learning = LearningSensors.restored(state.get("learning"), p.sensors)
    scorer = p._new_fallback()
    scorer.restore(state["numpy"])
    tiers = {"numpy"} if tier_changed else {t.TYPE for t in p.chain.tiers}    # (else the bundle's)
    detector.add({k: AdaptiveThreshold.restored(cfg.threshold.for_tier(k), st, f"thresholds.{k}")
                  for k, st in state["thresholds"].items() if k in tiers})
    if "numpy" not in detector.thresholds:
        raise ValueError("thresholds.numpy: missing")
    window = WindowBuffer(p.window.steps, n)
    window.restore(state["window"])
    level = None
    if p.level is not None:       # absent in checkpoints written before it existed: no alert held
        level = p._new_level()
        level.restore(state.get("level"), "level")
    discord = restored_discord(state.get("discord"), p._new_discord())
    last_ts = float(window.ts[-1])
    p.recent_problem = None
    recent = None
    if p._keeps_recent():
        capacity = p.recent.capacity if p.recent else p.warmup_ticks
        recent, p.recent_problem = restored_recent(state.get("recent"), capacity, n, last_ts,
                                                   ticks_to_fit(cfg.scoring.profile, p.window.steps))
    kept = {}
    if not tier_changed:
        kept, p.standby_problem = restored_standby(state.get("standby", {}), p.chain.tiers[:-1], n, last_ts,
                                                   lambda tier: p.fitter.learns_warmup(p.thresholds[tier]))
        restore_models(p.chain.tiers[:-1], state.get("models", {}))
    p.normaliser, p.numpy, p.detector, p.window = normaliser, scorer, detector, window
    p.learning = learning
    p.health, p.level, p.discord, p.recent = health, level, discord, recent
    p.chain.tiers[-1] = scorer
    for t, ticks_kept in kept.items():
        t.ticks = ticks_kept
    p.ticks, p.warm = ticks, True
    p.warmup.clear()
    p.warmup_counted, p.refill = counted, refill
    for t in p.chain.tiers[:-1]:
        t.align_to(normaliser)
    p.tier_waits = p.tier_note = None
    p.profile_waits = None
    if tier_changed:
        prepare_restored(p, tier_changed)
    elif cfg.scoring.profile.enabled and recent is not None:
        profile_missing(p)


def warmup_rows(w: dict, n: int, warmup_ticks: int) -> WarmupRows:
    """The checkpoint's warm-up rows (state "warmup"), each checked to have `n` sensors."""
    ts = np.asarray(w["ts"], np.float64).reshape(-1)
    rows = [Row(ts=float(t), values=np.asarray(v, np.float64), missing=np.asarray(m, bool),
                carried=np.asarray(c, bool))
            for t, v, m, c in zip(ts, w["values"], w["missing"], w["carried"])]
    if len(rows) != len(ts) or any(r.values.shape != (n,) or r.missing.shape != (n,)
                                   or r.carried.shape != (n,) for r in rows):
        raise ValueError(f"warmup: rows do not have {n} sensors")
    warmup = WarmupRows(n, max(warmup_ticks, len(rows)))
    for row in rows:
        warmup.append(row)
    return warmup


def prepare_restored(p: Pipeline, why: str) -> None:
    """The model tiers after a restore from a checkpoint taken with another bundle or profile (`why`): prepared
    as a hot-swapped bundle is (`prepare`) on the checkpoint's recent ticks when the ring is full — a tier
    given at start is fitted on a whole warm-up, and the ring holds as many — else, with a profile to fit, the
    fallback scores and they are prepared once the ring has filled with live ticks (`tier_waits`, `step`,
    `tier_takes_over`); without a profile there is nothing to fit: they score at once with their bundle's
    threshold, as at the end of a warm-up. Said in `tier_note` (the log, health's checkpoint_at_start)."""
    tiers = p.chain.tiers[:-1]
    names = "/".join(t.TYPE for t in tiers)
    ring = p.recent
    if not tiers:
        p.tier_note = f"{why}: no model tier now; the fallback's state resumed"
        return
    if ring is None or len(ring) >= ring.capacity:
        p.detector.add(p.prepare(tiers, None if ring is None else p.recent_ticks()))
        p.tier_note = (f"{why}: the model tier ({names}) prepared again on " +
                       ("nothing (no scoring.profile to fit)" if ring is None else
                        f"the checkpoint's {len(ring)} recent ticks") + ", scoring from the first tick")
        return
    p.tier_waits = why
    left = ring.capacity - len(ring)
    p.tier_note = (f"{why}: the fallback (numpy) scores until {left} more ticks ({span(left * p.cfg.tick_s)}) "
                   f"have filled the recent ticks (the checkpoint held {len(ring)} of {ring.capacity}); the "
                   f"model tier ({names}) is then prepared on them and takes over")
    p.chain.wait_below(f"model tier prepared after {left} more ticks (a restart onto {why})")


def without_profile(p: Pipeline) -> list[Scorer]:
    """The running model tiers restored without the normal profile `scoring.profile` fits (a standby is prepared
    when it loads)."""
    return [t for t in p.chain.tiers[:-1] if not isinstance(t, StandbyTier) and hasattr(t, "fit_profile")
            and not t.profile.fitted]


def profile_missing(p: Pipeline) -> None:
    """A model tier restored from a checkpoint of the same bundle and profile, but without its normal profile: one
    swapped in with no recent ticks to fit it on (before user36, a bundle delivered into models_dir to an agent
    started on numpy), or whose profile could not fit (too few ticks). Before, the restore prepared nothing and
    the tier ran raw for good, across restarts (user36's utility: a held blockage's alert ended `cleared` after
    59 s). It is fitted on the recent ticks, as a swap's is, when they hold what a profile needs
    (`ticks_to_fit`: `scoring.profile.min_ticks` after a window's context and the levels' settling) — now, or
    once the live ticks have filled them
    (`profile_waits`, `fit_missing_profile`); until then the tier scores on as it did, said once. Nothing is
    prepared again when there is nothing to fit it on."""
    tiers = without_profile(p)
    if not tiers:
        return
    names, need = "/".join(t.TYPE for t in tiers), ticks_to_fit(p.cfg.scoring.profile, p.window.steps)
    if len(p.recent) >= need:
        fit_missing_profile(p, need)
        return
    if p.recent.capacity < need:
        log.warning("%s: restored without a normal profile; the recent ticks kept (%d, warmup.ticks) are fewer "
                    "than the %d a profile is fitted on: it scores without one (a longer warm-up fits one)",
                    names, p.recent.capacity, need)
        return
    p.profile_waits = need
    log.warning("%s: restored without a normal profile; it is fitted once the recent ticks hold %d (%d now, "
                "%s more); it scores without one until then", names, need, len(p.recent),
                span((need - len(p.recent)) * p.cfg.tick_s))


def fit_missing_profile(p: Pipeline, need: int) -> None:
    """`profile_missing`'s fit on the recent ticks (at the restore, or from the tick that filled them to `need`):
    the tiers fitted take their own threshold and the alert rules forget the raw scores' scale; one that does not
    fit keeps scoring as it did, said, and is tried again once the recent ticks are full (not again in this life
    after that)."""
    p.profile_waits = None
    tiers = without_profile(p)
    thresholds = p.prepare(tiers, p.recent_ticks())
    fitted = {t.TYPE: thresholds[t.TYPE] for t in tiers if t.profile.fitted}
    if fitted:
        p.detector.add(fitted)
        p.alerts.new_model_scale()
        p.tier_note = (f"the model tier ({'/'.join(fitted)}) was restored without its normal profile: fitted on "
                       f"{len(p.recent)} recent ticks")
        log.info("%s", p.tier_note)
    if len(fitted) < len(tiers):
        again = len(p.recent) < p.recent.capacity        # (a sensor missing on some of them: a fuller ring may do)
        log.warning("%s: restored without a normal profile, and none fitted on the %d recent ticks (%s); it scores "
                    "without one%s", "/".join(t.TYPE for t in tiers if t.TYPE not in fitted), len(p.recent),
                    "; ".join(p.fitter.last_fit.get(t.TYPE, "") for t in tiers if t.TYPE not in fitted),
                    f", tried again once they hold {p.recent.capacity}" if again else " in this life")
        if again:
            p.profile_waits = p.recent.capacity


def tier_from_replay(p: Pipeline, read: Callable[[], tuple[WarmupRows, str]]) -> None:
    """Model tiers left waiting by `prepare_restored` (`tier_waits`: the checkpoint's ring not full) prepared
    at once on `warmup.replay` instead — `read`: agent/warmup.py read_replay, the recording read and aligned as a
    fresh start reads it — with the fit a hot-swapped bundle gets (`prepare`), on the recording's ticks, all
    taken as calm as a warm-up's are. Before, an upgrade onto skab32's profile scored with the fallback until
    the ring filled with live ticks (user13: 30 minutes, and a second alert the fallback opened 29 s after
    the upgrade). A recording shorter than the ring (a tier given at start is fitted on a whole warm-up) is
    fitted on alone when it holds at least the ticks a profile is fitted on (`ticks_to_fit`; `min_ticks` alone before
    user40, and a recording of 100–145 ticks prepared the tier without one; before
    clock24 it was dropped and the tier waited for a whole ring of live ticks); topping it up with live ticks
    lost on SKAB (they may hold the anomaly: docs/measured/first-week.md, clock24). One shorter than that, or
    one that cannot be read, leaves them waiting, said in `tier_note`. Never raises: the rest is restored."""
    if p.tier_waits is None:
        return
    why, need, least = p.tier_waits, p.recent.capacity, ticks_to_fit(p.cfg.scoring.profile, p.window.steps)
    try:
        rows, used = read()
        if len(rows) < least:
            raise ValueError(f"{len(rows)} ticks read, fewer than the {least} a profile is fitted on")
        recorded = (p.normaliser.apply(rows.values), rows.missing, rows.ts, None)   # calm, as a warm-up's
        thresholds = p.fitter.prepare(p.chain.tiers[:-1], p.normaliser, recorded, "warmup.replay ticks")
    except Exception as exc:  # noqa: BLE001 — a recording that fails leaves the tier waiting, as without one
        problem = f"warmup.replay not used ({type(exc).__name__}: {exc})"
        log.warning("the model tier waiting after a restart onto %s: %s; it waits for the live ticks", why, problem)
        p.tier_note = f"{p.tier_note}; {problem}"
        return
    log.info("the model tier prepared on warmup.replay: %s", used)
    p.detector.add(thresholds)
    p.tier_waits = None
    p.chain.replace(p.chain.tiers, f"prepared on {len(rows)} ticks of warmup.replay after a restart onto {why}")
    p.tier_note = (f"{why}: the model tier ({'/'.join(t.TYPE for t in p.chain.tiers[:-1])}) prepared again on "
                   f"warmup.replay ({len(rows)} recorded ticks" +
                   (f", fewer than a warm-up's {need}: fitted on them alone" if len(rows) < need else "") +
                   f"; the checkpoint held {len(p.recent)} recent ticks of {need}), scoring from the first tick")
    rows.clear()


def tier_takes_over(p: Pipeline) -> None:
    """The recent ticks have filled since a restore onto another bundle or profile (`prepare_restored`):
    the model tiers are prepared on them and take over from the fallback."""
    tiers = p.chain.tiers[:-1]
    p.detector.add(p.prepare(tiers, p.recent_ticks()))
    why, p.tier_waits = p.tier_waits, None
    p.chain.replace(p.chain.tiers, f"prepared on {len(p.recent)} recent ticks after a restart onto {why}")


def restored_discord(state, discord: DiscordWatch | None) -> DiscordWatch | None:
    """The discord watch (threshold.discord_ticks; `discord` a fresh one, None when off) as checkpointed; a
    checkpoint without one (written with it off) or for another length starts it afresh: its record is set
    again by its first discords (MIN_DISCORDS), so nothing alerts on the refilling history."""
    if discord is None:
        return None
    if not isinstance(state, dict) or state.get("m") != discord.m or state.get("history") != discord.history:
        log.info("threshold.discord_ticks: no discord state for m=%d in the checkpoint; it starts afresh", discord.m)
        return discord
    discord.restore(state, "discord")
    return discord


def restored_recent(state, capacity: int, n: int, last_ts: float, need: int) -> tuple[RecentTicks, str | None]:
    """The recent ticks a hot swap is fitted on, as checkpointed (agent/recent_ticks.py), and why they were
    refused (None: they were not). A checkpoint without them (written before they were checkpointed) gives an
    empty ring of `capacity`, filled by the live ticks; a ring that does not fit is refused on its own — said
    here and in Pipeline.recent_problem (the restart's health detail) — and starts empty: it only prepares a
    candidate, and the rest of the state is as good without it. `need`: the ticks a profile is fitted on
    (`ticks_to_fit`; it said `min_ticks` alone, user40)."""
    empty = RecentTicks(capacity, n)
    if state is None:
        log.info("the checkpoint holds no recent ticks: a model swapped in before %d calm ticks have come "
                 "fits no normal profile", need)
        return empty, None
    try:
        return RecentTicks.restored(state, n, last_ts), None
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"its recent ticks refused ({type(exc).__name__}: {exc})"
        log.warning("checkpoint: %s; the rest is restored, the recent ticks start empty (a model swapped in "
                    "before %d calm ticks have come fits no normal profile)", problem, need)
        return empty, problem


def standby_state(tiers: list[Scorer]) -> dict:
    """The ticks kept by the standby tiers not loaded yet (agent/scorers/standby.py), under "standby"; none
    kept (the shipped demo: nothing learns from warm-up), no key."""
    kept = {t.TYPE: t.kept_state() for t in tiers if isinstance(t, StandbyTier)}
    kept = {k: v for k, v in kept.items() if v is not None}
    return {"standby": kept} if kept else {}


def restored_standby(state, tiers: list[Scorer], n: int, last_ts: float,
                     learns_warmup: Callable[[str], bool]) -> tuple[dict, str | None]:
    """The ticks each standby tier among `tiers` kept, as checkpointed, checked (StandbyTier.kept_from):
    ({tier: ticks}, set by `restore` once the rest is in; why some were refused, or None). A checkpoint
    without them (written before they were checkpointed) leaves a standby that would keep them
    (`learns_warmup`) to be fitted on the recent ticks when it loads, as before; ticks that do not fit are
    refused on their own — said here and in Pipeline.standby_problem (the restart's health detail) — and the
    rest of the state restored (as the recent ticks are: `restored_recent`)."""
    problem = None
    standbys = [t for t in tiers if isinstance(t, StandbyTier)]
    kept = {t: None for t in standbys}
    for t in standbys:
        try:
            if not isinstance(state, dict):
                raise TypeError(f"standby: expected a mapping, got {type(state).__name__}")
            if t.TYPE not in state:
                if learns_warmup(t.TYPE):
                    log.info("the checkpoint holds no warm-up ticks for the %s tier on standby: if it loads, it "
                             "is fitted on the recent ticks", t.TYPE)
                continue
            kept[t] = t.kept_from(state[t.TYPE], n, last_ts)
        except (ValueError, KeyError, TypeError) as exc:
            why = f"the {t.TYPE} standby's warm-up ticks refused ({type(exc).__name__}: {exc})"
            problem = why if problem is None else f"{problem}; {why}"
            log.warning("checkpoint: %s; the rest is restored (if it loads, it is fitted on the recent ticks)", why)
    return kept, problem


def restore_models(tiers: list[Scorer], models: dict) -> None:
    """The model tiers' states, all or none: each tier checks its own before changing anything, but
    they are restored one after another, so when one does not fit those before it get back their own."""
    done = []
    try:
        for t in tiers:
            if t.TYPE in models and hasattr(t, "restore"):
                before = t.state_dict()
                t.restore(models[t.TYPE])
                done.append((t, before))
    except Exception:
        for t, before in reversed(done):
            t.restore(before)
        raise
