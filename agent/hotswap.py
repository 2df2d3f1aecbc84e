"""Model update without a restart: a new bundle dropped into `scoring.models_dir`, or SIGHUP.

1. Find. Every `poll_ticks` ticks the subdirectories of models_dir (not hidden ones) are stat'ed (the newest
   mtime of the directory and its files, and its listing, are its fingerprint: agent/models_dir.py); a directory
   with a manifest.json
   that is new or changed since it was last looked at is a candidate, newest first. Bundles
   already there at start-up are not candidates. SIGHUP asks for the newest bundle of
   models_dir even if it was seen, or, without a models_dir, for `scoring.bundle` again.
2. Load. A background thread checks the candidate as `scoring.bundle` is checked at start (check-config
   and `run`: agent/preflight.py, the same `load_fitting` — the manifest against the config, its declared
   inputs and outputs, every listed file's sha256); one refused there is rejected in the start's words
   (qa44: it reached the runtimes, each refusing it in its own). Then it builds the chain's model tiers from
   it; each tier verifies it (the sha256 of the artifact it runs, the runtime's input and output shapes).
   The tiers below the top one are standbys, as at start (agent/scorers/standby.py: their artifact
   verified and their runtime found installed, loaded only when the chain steps down to them, their
   shapes checked then): a swap loads no runtime the agent did not start
   with, so its memory after a swap is its memory before (swap3). The daemon keeps scoring with the
   current chain meanwhile.
   Then, in the same thread, the candidate is prepared as a bundle given at start is at warm-up
   (`SwapTarget.prepare`): with `scoring.profile` on, its normal profile is fitted and its threshold
   calibrated on the plant's recent calm ticks, which the pipeline keeps for this (agent/recent_ticks.py,
   taken when the load starts), those its manifest says it was not trained on (agent/held_out_ticks.py) — else it ran raw, no profile and the bundle's threshold, until a restart.
   Every tier the running chain uses must accept the candidate (with numpy alone running:
   every configured tier whose runtime is installed) — else it is rejected: a swap must never
   silently lose a tier the agent had. A candidate whose fingerprint changed while it was read
   (a copy still going on) is not judged: it is a candidate again at the next poll. The bundle
   a swap put in, its directory written to again with the same manifest (a copy that finished
   just after it was read, a `touch`, an rsync of the same release), is not swapped in again — nor,
   after a restart, the bundle the agent started on.
3. Shadow. With a fitted candidate (`scoring.profile`) its top tier first scores `window.steps` ticks
   beside the active chain unjudged — its settle: fitted on the ticks kept when the load began, its
   forecast/error history lacks those the load took — even with `shadow_ticks` 0, which swaps it in
   right after. Then, for `shadow_ticks` ticks, the top tier scores the same window beside the
   active chain, as the tick would score it (blended with the fallback under `blend_numpy`,
   quieted for a sensor just back), judged by its own Detector (agent/detector.py: the pipeline's rules, with
   the candidate's thresholds and an alert tracker of its own whose events go nowhere; given the tick's sensor
   levels and the candidate's sensor scores, as the live one is given the chain's — else the candidate was judged
   without the level hold and the residue end, agent/alert_levels.py, agent/alert_residue.py); score
   correlation and alert-decision agreement are logged; the correlation is judged against
   `scoring.shadow_min_correlation` when that is set (off by default: measured, retrains of one
   plant correlate anywhere from -0.9 to 1 over a 120-tick shadow — docs/measured/model-updates.md).
4. Swap. Between two ticks the pipeline is asked to swap (`swap`: the new thresholds,
   then the chain's tiers) — so every tick is scored, by the old chain up to the swap and by
   the new one after it. A candidate that
   fails to load, faults or runs over the latency budget in shadow, agrees on fewer than
   `min_agreement` of the alert decisions, or (when set) correlates below the floor or reads off
   scale on `scoring.shadow_refuse_off_scale` of the sensors is rejected with its reason (in the
   log, health's `model_update.last`, counted); the old one keeps running.

All of it runs in the pipeline's thread (`on_tick`), except the load; `request` only sets a
flag, so it is safe to call from a signal handler. HotSwap sees the pipeline only through
`SwapTarget` (what it runs, score a candidate beside it, swap), never its chain or window.

The active bundle gone (swap7): moved out of models_dir (an operator rolling back), or its own directory
no longer verifying. Said at once, it is replaced by the release before it: the other bundles of models_dir,
newest first, then `scoring.bundle`, each taken as a delivery (load, shadow, swap), a refused one giving way
to the next (`_begin_rollback`); none qualifying, said, the model scores on from memory until a restart.
A restart chooses the same way (agent/active_bundle.py `_release_before`). Each release's verdict is kept
(agent/release_verdicts.py): neither takes a release the shadow or the check refused, and a rollback's candidate is
judged on its own health, not on agreeing with the withdrawn model (`_finish`; swap8).

Across restarts: `<state_dir>/active-bundle.json` (agent/active_bundle.py) records the bundle a swap
made active and the fingerprints of the models_dir bundles already decided on — written at the first
start too. A restarted agent starts on that bundle, and a bundle dropped or changed while it was
down, or still in shadow when it died, is a candidate at the first poll. The record keeps the manifest digest of
the release that ran too: that bundle's own directory rewritten in place while the agent was down (another manifest)
is not started on but judged at the first poll as any delivery, the restart on the release before it (swap9,
`_rewritten_in_place`); so is `scoring.bundle` rewritten while the agent was down, the restart on the last release
judged here (swap10; none judged: started on it, said; a builtin changed by a package upgrade said as such: swap11).
The record keeps `scoring.bundle`'s release as known here, too (CONFIGURED_KNOWN): a restart that falls back on it
with the swapped-in release gone says it was rewritten too (swap11). What a start runs instead of the release that
ran, and why: health `model_update.started_instead`. A record that is there
but unreadable, or missing where the checkpoint shows it was lost, is said and counted (health
`state_reads`); the agent starts on the configured
bundle and judges the newest bundle of models_dir at the first poll, the older ones named as taken
for decided (`_resume_without_record`). What models_dir holds, and loading a candidate from it:
agent/models_dir.py.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .active_bundle import (ACTIVE_FILE, CONFIGURED_KNOWN, RAN, Unreadable, configured_also_rewritten, configured_path,
                            configured_refusal, configured_rewritten, restarts_on, rewritten, write_record)
from .alert_events import iso, ranked
from .alert_residue import scores_by_name
from .bundle import BundleError, Expectation, how_changed, parity_note, resolve_path
from .models_dir import Fingerprint, build_candidate, bundle_dirs, fingerprint, releases_before
from .release_verdicts import REFUSED_CHECK, REFUSED_SHADOW, SWAPPED_IN, WITHDRAWN, Verdicts, manifest_digest
from .scorers import runtimes
from .scorers.model_scorer import load_fitting
from .detector import Detector
from .threshold import AdaptiveThreshold
from .time_shift import shift_times
from .warmup import PlantOff

if TYPE_CHECKING:
    from .config import AgentConfig
    from .scorers.base import Scorer, TickScore

log = logging.getLogger("stad.hotswap")

POLL_EVERY_TICKS = 10          # how often models_dir is looked at
GONE_GRACE_S = 5.0             # the active bundle's directory missing this long (and at two polls) is gone: _active_gone
UNDEFINED_LONGEST = 5          # a shadow whose correlation is undefined (a calm stretch) goes on up to this × shadow_ticks


NEW_BUNDLE = "new bundle in models_dir"     # the trigger of a models_dir poll
ROLLBACK = "rollback"                       # the trigger of a load after the active bundle went (_begin_rollback)
RELOAD_SCOPE = "SIGHUP reloads the model bundle only: a config change needs a restart"


class SwapTarget(Protocol):
    """What a hot swap needs of the pipeline it updates (agent/pipeline.py implements it)."""

    def model_tiers(self) -> list[str]:
        """The running chain's model tiers, top first (numpy, always last, left out)."""

    def active_tier(self) -> str:
        """The tier scoring now (a model tier, or numpy after a fault)."""

    def model_id(self) -> str | None:
        """The top model tier's model_id; None with numpy alone."""

    def model_manifest(self) -> dict | None:
        """The top model tier's manifest (to_dict); None with numpy alone."""

    def recent_ticks(self):
        """A copy of the plant's recent calm ticks to fit a candidate on (None: none kept, no profile)."""

    def prepare(self, tiers: list[Scorer], recent=None) -> dict[str, AdaptiveThreshold]:
        """Make candidate tiers read the pipeline's window (its normalisation) and, given `recent`,
        fit their normal profile and thresholds on it as the warm-up does; their thresholds. Runs
        in the load's thread: it touches only the candidate."""

    def score_beside(self, scorer: Scorer, threshold: float | None = None) -> TickScore:
        """`scorer`'s score of the window the last tick was scored on, as the tick would give it
        (blended with the fallback over `threshold`, the candidate's, when the config blends)."""

    def new_detector(self, thresholds: dict[str, AdaptiveThreshold]) -> Detector:
        """A Detector judging as the pipeline's does (its alert rules), with `thresholds`."""

    def levels_view(self):
        """The `levels` callable the pipeline's Detector is given on a tick (each sensor's level distance from
        warm-up over the window the last tick was scored on), or None when no alert is held on levels."""

    def scale_mismatches(self, scorer: Scorer) -> list[str]:
        """One line per sensor whose readings in the window are not on the scale of `scorer`'s
        bundle normalisation (agent/warmup.py unit_mismatches); [] before the window fills."""

    def scale_judgeable(self) -> bool:
        """Whether scale_mismatches can judge a sensor: one read twice in the window (chaos11)."""

    def swap(self, tiers: list[Scorer], thresholds: dict[str, AdaptiveThreshold], reason: str) -> None:
        """Put `tiers` in front of numpy, with their thresholds, between two ticks."""


@dataclass
class Shadow:
    path: Path
    trigger: str
    tiers: list
    detector: Detector
    digest: str | None = None   # its manifest's sha256, the key of its verdict (agent/release_verdicts.py)
    settle: int = 0         # first ticks scored, not judged: the candidate's history catches up (swap1)
    current: list[float] = field(default_factory=list)
    candidate: list[float] = field(default_factory=list)
    agree: list[bool] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    unread_said: bool = False   # its scale waited for a window with readings, said (once; chaos11)

    @property
    def scorer(self):
        return self.tiers[0]

    def correlation(self) -> float:
        a, b = np.asarray(self.current), np.asarray(self.candidate)
        if len(a) < 2 or a.std() == 0 or b.std() == 0:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    def constant(self) -> list[str]:
        """Which sides' scores did not move over the shadow ('current', 'candidate'): why the
        correlation is undefined."""
        return [side for side, xs in (("current", self.current), ("candidate", self.candidate))
                if len(xs) < 2 or np.std(xs) == 0]

    def agreement(self) -> float:
        return float(np.mean(self.agree)) if self.agree else 1.0


class HotSwap:
    def __init__(self, cfg: AgentConfig, pipeline: SwapTarget, poll_ticks: int = POLL_EVERY_TICKS):
        self.cfg = cfg
        self.pipeline = pipeline
        self.poll_ticks = max(1, poll_ticks)
        self.min_agreement = cfg.scoring.shadow_min_agreement    # (a constructor argument beside cfg until
        # 5 Dec: a HotSwap built without it judged at 0.8 whatever its config said)
        self.models_dir = cfg.resolve(cfg.scoring.models_dir) if cfg.scoring.models_dir else None
        self.listing_problem: str | None = None    # why models_dir cannot be listed now (said once)
        self.seen: dict[Path, Fingerprint] = self._bundle_dirs()     # models_dir's bundles decided on, as listed then
        running = cfg.scoring.bundle and pipeline.model_tiers()
        self.current = resolve_path(cfg.scoring.bundle, cfg.base_dir) if running else None
        self._configured = self.current
        # The manifest of the bundle scoring now — the configured one, the one a swap put in, or after a
        # restart the one active-bundle.json named: a touch of its directory is not a new release.
        self._running_manifest = pipeline.model_manifest() if running else None
        # ... and its manifest.json's sha256: the release that ran, recorded (a restart starts on no other: swap9)
        self._running_digest = manifest_digest(self.current) if running else None
        # ... and scoring.bundle's release as this gateway knows it, kept while another runs (CONFIGURED_KNOWN: swap11)
        self._configured_known = manifest_digest(self._configured) if self._configured else None
        self.verdicts = Verdicts()          # each release's verdict, kept across restarts (agent/release_verdicts.py)
        self._candidate_digest: str | None = None   # the manifest digest of the bundle loading (read as it began)
        self.ticks = 0
        self.shadow: Shadow | None = None
        self.outcomes: deque[dict] = deque(maxlen=20)
        self.accepted = 0
        self.rejected = 0
        self._requested: str | None = None
        self._loading: threading.Thread | None = None
        self._loaded: tuple | None = None
        self._moved_while_loading = 0.0     # seconds the pipeline's times moved while a candidate loaded
        self._lock = threading.Lock()
        self._gone: str | None = None             # the active bundle gone or no longer verifying, said (_begin_rollback)
        self._gone_polls = 0                      # polls running that found the active bundle's directory gone
        self._gone_since = 0.0                    # (time.monotonic) the first of them
        self._rollback: list[Path] | None = None   # the bundles left to roll back to, newest first
        self.record_problem: str | None = None      # active-bundle.json unreadable at start: 'path: why'
        self.started_instead: str | None = None     # what this start runs instead of the release that ran, why
        self._rewritten_configured: Path | None = None  # scoring.bundle outside models_dir rewritten while down, not
        #                                                  started on: judged at the first poll (swap10)

    # -- triggers -----------------------------------------------------------------------------

    def request(self, trigger: str = "SIGHUP") -> None:
        """Ask for a reload at the next tick (safe in a signal handler: sets a flag only)."""
        self._requested = trigger

    def _take_newest(self, dirs: dict[Path, int], among) -> Path | None:
        """The newest of `among` (bundle dirs of `dirs`), recorded as seen; None when there is none.
        A bundle no longer in models_dir is forgotten (qa29: `seen`, and active-bundle.json with it, kept
        every bundle ever delivered, ~64 bytes each, for months); one delivered again later is new anyway
        (its fingerprint). An empty listing (models_dir away, a mount not there yet) forgets nothing: the
        bundles seen before it are not judged again when it comes back."""
        self._forget_gone(dirs)
        newest = max(among, key=dirs.get, default=None)
        if newest is not None:
            self.seen[newest] = dirs[newest]
        return newest

    def _forget_gone(self, dirs: dict[Path, Fingerprint]) -> None:
        """Forget the bundles of `seen` no longer in models_dir (`dirs`; nothing when it is empty: see `_take_newest`):
        one put back later is a delivery, judged — at a poll (the first poll that finds the active bundle missing
        forgets it, before it counts as gone), and at a restart, before any poll (swap8: a release withdrawn while
        the agent was down and put back before the first poll kept its fingerprint, a rename keeping its times and
        inode, and was taken as decided, never judged)."""
        if dirs:
            for gone in self.seen.keys() - dirs.keys():
                del self.seen[gone]

    def _sighup_target(self) -> Path | None:
        if self.models_dir is not None:
            dirs = self._bundle_dirs()
            newest = self._take_newest(dirs, dirs)
            if newest is not None:
                return newest
        if self.cfg.scoring.bundle:
            return resolve_path(self.cfg.scoring.bundle, self.cfg.base_dir)
        return None

    def _new_bundle(self, dirs: dict[Path, Fingerprint] | None = None) -> Path | None:
        dirs = self._bundle_dirs() if dirs is None else dirs
        among = []
        for d, fp in dirs.items():
            kept = self.seen.get(d)
            if kept is None or not kept.matches(fp):
                among.append(d)
            elif kept.listing is None:      # recorded before the listing was kept (an older record): taken now
                self.seen[d] = fp
        return self._take_newest(dirs, among)

    def _bundle_dirs(self) -> dict[Path, int]:
        """models_dir's bundles ({} without a models_dir). One that cannot be listed (a file or a
        broken mount in its place, its permissions) is said once — no bundle delivered into it
        can be seen meanwhile, health `model_update.models_dir_problem` says why — and said again
        when it can be listed."""
        if self.models_dir is None:
            return {}
        try:
            dirs = bundle_dirs(self.models_dir)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if why != self.listing_problem:
                log.error("models_dir %s cannot be read (%s): a bundle delivered into it is not seen until it can "
                          "(said once)", self.models_dir, why)
            self.listing_problem = why
            return {}
        if self.listing_problem is not None:
            log.warning("models_dir %s is read again", self.models_dir)
            self.listing_problem = None
        return dirs

    # -- per tick -----------------------------------------------------------------------------

    def on_tick(self, result) -> None:
        """Called after every scored tick, in the pipeline's thread."""
        if result.times_moved_s is not None:
            self._times_moved(result.times_moved_s)
        if self._numpy_only() or result.warming:
            return
        self.ticks += 1
        if self.shadow is not None:
            self._shadow_tick(result)
            return
        self._between_ticks(poll=self.models_dir is not None and self.ticks % self.poll_ticks == 0)

    def _times_moved(self, delta: float) -> None:
        """The pipeline moved its learned state's times by `delta` s (a step of this host's clock, or of the
        data back: Pipeline._shift_times): the candidate's move too — its thresholds' clock scale and recurring
        level, its Detector's hold, its tiers' — else, swapped in after a step back of an hour, its clock scale
        learned nothing for the hour (review23). A candidate still loading moves when its shadow starts."""
        if self.shadow is not None:
            shift_times((self.shadow.tiers, self.shadow.detector), delta)
        elif self._loading is not None:
            self._moved_while_loading += delta

    def idle(self, warm: bool) -> None:
        """Called in the pipeline's thread when a turn of the loop brought no tick (a silent source,
        or the loop woken by a SIGHUP): what a SIGHUP asked for is started, and a candidate whose load
        has finished is judged, without waiting for data — a `systemctl reload` during a stall is
        answered now (a refused bundle said and counted); a shadow needs ticks, so a verified
        candidate is scored and swapped in once data comes. During the warm-up a reload waits for
        it to end, as at a tick."""
        if self._numpy_only() or not warm or self.shadow is not None:
            return
        self._between_ticks(poll=False)

    def _numpy_only(self) -> bool:
        """A chain without a model tier; a reload asked for is answered at once (warm-up can last a
        day), not dropped silently."""
        if self.cfg.scoring.chain and self.cfg.scoring.chain[0] != "numpy":
            return False
        if self._requested is not None:
            log.warning("%s: the scoring chain is numpy only, no model bundle to reload (%s)",
                        self._requested, RELOAD_SCOPE)
            self._requested = None
        return True

    def _between_ticks(self, poll: bool) -> None:
        """A finished load judged, else a load started (asked for, or a new bundle when `poll`)."""
        with self._lock:
            loaded, self._loaded = self._loaded, None
        if loaded is not None:
            self._loading = None
            path, trigger, tiers, prepared, refusals, refused, seconds, changed = loaded
            moved, self._moved_while_loading = self._moved_while_loading, 0.0
            if moved:       # fitted on ticks of the clock before the step (_times_moved)
                shift_times((tiers, prepared[0]), moved)
            if changed:     # its fingerprint no longer the one recorded
                log.info("model update: %s changed while it was loaded (still being copied?); judged when it "
                         "is still", path)
            else:
                self._start_shadow(path, trigger, tiers, prepared, refusals, refused, seconds)
            return
        if self._loading is not None:
            return
        path, trigger = None, None
        if self._requested is not None:
            trigger, self._requested = self._requested, None
            path = self._sighup_target()
            if path is None:
                log.warning("%s: no bundle to load (no models_dir bundle and no scoring.bundle; %s)", trigger,
                            RELOAD_SCOPE)
        elif self._rollback is not None:
            path, trigger = self._next_rollback(), ROLLBACK
        elif poll and self._rewritten_configured is not None:
            # judged as a delivery (swap10); a builtin's, changed with the package, said so (swap11)
            path, self._rewritten_configured = self._rewritten_configured, None
            trigger = f"scoring.bundle {how_changed(path)}"
        elif poll:
            dirs = self._bundle_dirs()
            if self._active_gone(dirs):
                self._begin_rollback(dirs, "is gone from models_dir (its directory moved away or its manifest removed)",
                                     withdrawn=True)
                path, trigger = (self._next_rollback() if self._rollback else None), ROLLBACK
            else:
                path, trigger = self._new_bundle(dirs), NEW_BUNDLE
        if path is not None:
            self._load(path, trigger)

    # -- the active bundle gone: the release before it ----------------------------------------

    def _in_models_dir(self, path: Path | None) -> bool:
        return path is not None and self.models_dir is not None and path.parent == self.models_dir

    def _active_gone(self, dirs: dict[Path, Fingerprint]) -> bool:
        """Whether the bundle scoring now is a models_dir bundle whose directory (or manifest) is no longer
        there, at two polls running and for GONE_GRACE_S of this host's time: a release replaced in place (the
        old one renamed away, the new one copied and renamed in) is missing meanwhile, and is then judged as
        the delivery it is (a replay at 20 ticks a second polls every 0.1 s: two polls alone are shorter than a
        bundle's copy). Once said, not again until another bundle is active (`_gone`)."""
        if not self._in_models_dir(self.current) or self.listing_problem is not None or self._gone is not None:
            self._gone_polls = 0
            return False
        if self.current in dirs:
            self._gone_polls = 0
            return False
        self._gone_polls += 1
        if self._gone_polls == 1:
            self._gone_since = time.monotonic()
        return self._gone_polls >= 2 and time.monotonic() - self._gone_since >= GONE_GRACE_S

    def _begin_rollback(self, dirs: dict[Path, Fingerprint], why: str, withdrawn: bool = False) -> None:
        """The active bundle `why` (gone, or no longer verifying): said at once, and the other bundles of
        models_dir already decided on (`seen`, unchanged since: one not yet looked at is a delivery, judged at a
        poll after this), newest first, then `scoring.bundle`, are queued for the path a delivery takes (load
        with the start's check, prepare, settle, shadow, swap); a refused one gives way to the next. A restart
        chooses the same way (agent/active_bundle.py `_release_before`). A release the shadow or the check refused
        is skipped, and said (swap8: a restart started on it). `withdrawn`: its directory went (its verdict
        `withdrawn`; one no longer verifying was just refused by the check)."""
        self._gone = f"{self.current} {why}"
        if withdrawn:
            self.verdicts.withdraw(self.current, why)
        queue, skipped = releases_before(dirs, self.seen, self.current, self.verdicts)
        if self._configured is not None and self._configured != self.current and self._configured not in queue:
            queue.append(self._configured)
        self._rollback = queue or None
        then = (f"rolling back to the newest other bundle that verifies and fits, in turn: "
                f"{', '.join(str(d) for d in queue)} (each loaded, shadowed and swapped in as a delivery)"
                if queue else "no other bundle in models_dir and no scoring.bundle to roll back to")
        if skipped:
            then += f"; skipped, as a restart skips them: {'; '.join(skipped)}"
        log.warning("model update: the active bundle %s: it scores on from memory meanwhile; %s", self._gone, then)
        self._save_record()

    def _next_rollback(self) -> Path | None:
        """The next bundle to roll back to; None (said) once every one was refused."""
        if self._rollback:
            return self._rollback.pop(0)
        self._rollback = None
        log.warning("model update: no bundle to roll back to qualifies (each refused, said above); %s scores on "
                    "from memory; a restart starts on %s", self.current, self.cfg.scoring.bundle or "numpy")
        return None

    def _load(self, path: Path, trigger: str) -> None:
        """Load `path` in a thread. A models_dir bundle whose fingerprint changed while it was read
        (a copy still going on) is not judged: what was read may be neither the old nor the new."""
        self._candidate_digest = digest = manifest_digest(path)
        kept = self.verdicts.of(digest)
        if kept is not None and kept["verdict"] == WITHDRAWN and trigger == NEW_BUNDLE:
            log.info("model update (%s): loading %s: this release was withdrawn from models_dir at %s (as %s) and is "
                     "back: judged as any delivery (shadow, swap)", trigger, path, iso(kept["at"]), kept["release"])
        else:
            log.info("model update (%s): loading %s", trigger, path)
        before = self.seen.get(path)
        recent = self.pipeline.recent_ticks()           # (a copy, taken in the tick thread)

        def work() -> None:
            started = time.perf_counter()
            thresholds, settle, refused = {}, 0, None
            try:
                load_fitting(str(path), self.cfg.base_dir, Expectation.from_config(self.cfg))
                tiers, refusals = build_candidate(self.cfg, path)
                if tiers:
                    thresholds = self.pipeline.prepare(tiers, recent)
                    settle = 0 if recent is None else self.cfg.window.steps
            except BundleError as exc:          # as the start refuses it: its words alone
                tiers, refusals, refused = [], [], str(exc)
            except Exception as exc:  # noqa: BLE001 — reported as a rejection on the next tick
                tiers, refusals = [], [f"{type(exc).__name__}: {exc}"]
            seconds = time.perf_counter() - started
            try:        # (its newest mtime, or its listing: replaced by a copy that kept the times, models_dir.py)
                changed = before is not None and fingerprint(path) != before
            except OSError:
                changed = True
            with self._lock:
                self._loaded = (path, trigger, tiers, (thresholds, settle), refusals, refused, seconds,
                                changed)

        self._loading = threading.Thread(target=work, name="bundle-load", daemon=True)
        self._loading.start()

    def _unverified(self, path: Path, why: str) -> None:
        """The active models_dir bundle's own directory, written to, no longer verifies (refused by the start's
        check or by every tier): a restart would not start on it either, so the release before it is rolled
        back to now, as when its directory is gone."""
        if path == self.current and self._in_models_dir(path) and self._gone is None:
            self._begin_rollback(self._bundle_dirs(), f"no longer verifies ({why})")

    def required_tiers(self) -> list[str]:
        """The tiers a candidate must load in: those of the running chain; with numpy alone
        running (no bundle yet, or none loaded), every configured tier whose runtime is installed."""
        running = self.pipeline.model_tiers()
        if running:
            return running
        return [t for t in self.cfg.scoring.chain if t != "numpy" and _installed(t)]

    def _start_shadow(self, path: Path, trigger: str, tiers: list,
                      prepared: tuple[dict[str, AdaptiveThreshold], int], refusals: list[str], refused: str | None,
                      seconds: float) -> None:
        """`prepared`: the candidate's thresholds (SwapTarget.prepare) and the ticks its shadow scores before
        judging: fitted on the recent ticks as the load began, its forecast and error history lacks the
        ticks the load took, and a window's worth of them is scored first (else a 30-tick shadow of the
        running bundle's own copy correlated 0.19 with it on the demo: its level and bias read a gap).
        `refused`: why the start's check of a bundle refused it (then no tier was built)."""
        digest = self._candidate_digest
        if refused is not None:         # by the start's check (load_fitting), in its words
            self._reject(path, trigger, refused, REFUSED_CHECK, digest)
            self._unverified(path, refused)
            return
        thresholds, settle = prepared
        loaded = {t.TYPE for t in tiers}
        lost = [t for t in self.required_tiers() if t not in loaded]
        if lost or not tiers:
            what = f"the chain's {', '.join(lost)} tier{'s' if len(lost) > 1 else ''} refused it" if lost \
                else "no tier could load it"
            self._reject(path, trigger, f"{what}: " + "; ".join(refusals), REFUSED_CHECK, digest)
            self._unverified(path, f"{what}: " + "; ".join(refusals))
            return
        manifest = tiers[0].bundle.manifest.to_dict()
        if trigger == NEW_BUNDLE and path == self.current and manifest == self._running_manifest:
            log.info("model update: %s is the bundle scoring now, unchanged (its directory was written to "
                     "again); not swapped again", path)
            self._gone = None           # (its directory moved away and back, or a file changed and restored)
            self._running_digest = digest   # (the same release; its manifest.json rewritten, as by a copy of it)
            was = (self.verdicts.of(digest) or {}).get("verdict")
            if was in (WITHDRAWN, REFUSED_CHECK):       # the bundle running, verified again: a release to roll back to
                self.verdicts.record(digest, path, SWAPPED_IN, f"{was}, then back in models_dir, verified, while it "
                                     "still scored (no release before it had qualified)")
            self._save_record()         # its new fingerprint: not a candidate after a restart either
            return
        for r in refusals:                      # a tier the running chain does not use either
            log.info("model update: %s: %s", path, r)
        detector = self.pipeline.new_detector(thresholds)
        self.shadow = Shadow(path=path, trigger=trigger, tiers=tiers, detector=detector, digest=digest, settle=settle)
        log.info("model update: %s verified in %.2f s (%s); %sshadow for %d ticks beside %s",
                 path, seconds, ", ".join(t.TYPE for t in tiers),
                 f"{settle} ticks to settle (scored, not judged), then " if settle else "",
                 self.cfg.scoring.shadow_ticks, self.pipeline.active_tier())
        note = parity_note(tiers[0].bundle, [t.kind for t in tiers])     # what this gateway's tiers run
        if note:
            log.warning("model update: %s", note)
        if self.cfg.scoring.shadow_ticks == 0 and not settle:
            self._finish()

    def _shadow_tick(self, result) -> None:
        sh = self.shadow
        t0 = time.perf_counter()
        try:
            cand = self.pipeline.score_beside(sh.scorer, sh.detector.threshold(sh.scorer.TYPE))
            if not (np.all(np.isfinite(cand.sensor_scores)) and np.isfinite(cand.score)):
                raise ValueError("returned NaN/inf scores")
        except Exception as exc:  # noqa: BLE001 — a fault in shadow rejects the candidate
            self.shadow = None
            self._reject(sh.path, sh.trigger, f"{sh.scorer.TYPE} failed in shadow: {type(exc).__name__}: {exc}",
                         REFUSED_SHADOW, sh.digest)
            return
        if sh.settle > 0:
            sh.settle -= 1
            # shadow_ticks 0 (no judging) still settles: swapped in at once, the candidate's first window
            # read a forecast/error history with the load's ticks missing from it (swap2)
            if sh.settle == 0 and self.cfg.scoring.shadow_ticks == 0:
                self._finish()
            return
        sh.latency_ms.append((time.perf_counter() - t0) * 1e3)
        sh.current.append(result.score)
        sh.candidate.append(cand.score)
        names = self.cfg.sensor_names()
        decision = sh.detector.step(       # (the tick's levels and the candidate's sensor scores, as the live one's)
            result.ts, cand.score, sh.scorer.TYPE, sh.scorer.describe,
            lambda: _judged_explanation(names, cand.sensor_scores, self.cfg.alerts.top_k),
            levels=self.pipeline.levels_view(),
            scores=lambda: scores_by_name(names, cand.sensor_scores))
        sh.agree.append((result.score > result.threshold) == decision.above)
        if len(sh.candidate) >= self.cfg.scoring.shadow_ticks:
            self._finish()

    def _finish(self) -> None:
        """The shadow judged: latency, then (not for a rollback) agreement and correlation with the running model,
        then the scale; a swap, or a rejection with its reason.

        A rollback's candidate (`ROLLBACK`) is judged on its own health alone — no fault and finite scores (at each
        shadow tick), its latency, its scale against the plant's readings — not on agreeing with the model it
        replaces: that model is the one the operator withdrew (or whose files no longer verify), and a release
        withdrawn for its false alerts makes the release before it disagree, which is what the operator wants
        (swap8: until then the predecessor was refused for it, and the next older one too). Its agreement and
        correlation are logged in its figures, not judged. It is a release already decided on and not refused (the
        rollback's queue, agent/models_dir.py `releases_before`), or the configured bundle."""
        sh = self.shadow
        r, agreement = sh.correlation(), sh.agreement()
        rollback = sh.trigger == ROLLBACK
        floor = None if rollback else self.cfg.scoring.shadow_min_correlation
        if floor is not None and np.isnan(r) and 0 < len(sh.candidate) < UNDEFINED_LONGEST * self.cfg.scoring.shadow_ticks:
            if len(sh.candidate) == self.cfg.scoring.shadow_ticks:
                log.info("model update: %s: score correlation undefined over %d shadow ticks (the %s scores "
                         "constant: a calm stretch); the shadow goes on, up to %d ticks, until it can be judged",
                         sh.path, len(sh.candidate), " and ".join(sh.constant()),
                         UNDEFINED_LONGEST * self.cfg.scoring.shadow_ticks)
            return
        if not rollback and self.cfg.scoring.shadow_refuse_off_scale is not None \
                and not self.pipeline.scale_judgeable():
            # No sensor read twice in the window (a source down, or a fault's mask until it clears, ~60 s after the
            # readings are back): the scale check judges none (it needs 2 readings), and a bundle of another plant went
            # in unjudged (chaos11's soak, 4 of 9). The shadow goes on until the window holds readings.
            if not sh.unread_said:
                sh.unread_said = True
                log.info("model update: %s: no sensor read in the window (each missing, or masked by a fault): "
                         "scoring.shadow_refuse_off_scale cannot judge it yet; the shadow goes on until it can", sh.path)
            return
        self.shadow = None
        p50 = float(np.median(sh.latency_ms)) if sh.latency_ms else 0.0
        figures = (f"{len(sh.candidate)} shadow ticks, score correlation {'undefined' if np.isnan(r) else f'{r:.3f}'}, "
                   f"alert-decision agreement {agreement:.3f}, latency p50 {p50:.2f} ms")
        if p50 > self.cfg.scoring.latency_budget_ms:
            self._reject(sh.path, sh.trigger, f"over the latency budget ({self.cfg.scoring.latency_budget_ms} ms): "
                         + figures, REFUSED_SHADOW, sh.digest)
            return
        if rollback:
            figures += " (a rollback: its agreement and correlation with the withdrawn model not judged)"
        elif agreement < self.min_agreement:
            # the key and the way to take it all the same (user29: a retrain of the same plant, rejected at 0.700,
            # said `agreement below 0.8` and nothing else; the other shadow rules name their keys)
            self._reject(sh.path, sh.trigger, f"alert-decision agreement below scoring.shadow_min_agreement "
                         f"{self.min_agreement}: {figures}; to take it all the same, set scoring.bundle to it and restart (or "
                         f"lower that key and restart: a SIGHUP then judges it again)", REFUSED_SHADOW, sh.digest)
            return
        if floor is not None and not self._correlation_judged(sh, r, floor, figures):
            return
        if not self._scale_judged(sh, figures):
            return
        model_id = sh.scorer.describe().get("model_id")
        self.pipeline.swap(sh.tiers, sh.detector.thresholds,
                           f"model update ({sh.trigger}): {model_id} from {sh.path} swapped in, scoring from this "
                           f"tick (its shadow: {figures})")
        self.current = sh.path
        self._gone, self._rollback = None, None
        self._running_manifest = sh.scorer.bundle.manifest.to_dict()
        self._running_digest = sh.digest
        self.verdicts.record(sh.digest, sh.path, SWAPPED_IN, f"{sh.trigger}: {figures}")
        self.accepted += 1
        self._save_record()
        self.outcomes.append({"path": str(sh.path), "trigger": sh.trigger, "accepted": True, "model_id": model_id,
                              "score_correlation": None if np.isnan(r) else round(r, 4),
                              "decision_agreement": round(agreement, 4), "at": time.time()})

    def _correlation_judged(self, sh: Shadow, r: float, floor: float, figures: str) -> bool:
        """Whether the candidate passes `scoring.shadow_min_correlation` (False: rejected here, said).
        Undefined after the longest shadow: a candidate whose own scores never moved while the
        running model's did is a broken model and is rejected; when the running model's did not
        move either (nothing to compare with: every sensor quiet or masked), the floor cannot judge,
        and the candidate goes on to the swap with a warning that says so — a calm plant is no
        evidence against a bundle, and a NaN must neither pass unsaid nor reject a good one."""
        if not sh.candidate:
            log.warning("model update: %s: scoring.shadow_ticks is 0, no shadow: scoring.shadow_min_correlation %s "
                        "cannot judge it", sh.path, floor)
            return True
        if np.isnan(r):
            constant = sh.constant()
            if constant == ["candidate"]:
                self._reject(sh.path, sh.trigger, "its scores did not move while the running model's did (score "
                             f"correlation undefined; scoring.shadow_min_correlation {floor}): " + figures,
                             REFUSED_SHADOW, sh.digest)
                return False
            log.warning("model update: %s: score correlation undefined over %d shadow ticks (the running model's "
                        "scores constant: every sensor quiet or missing): scoring.shadow_min_correlation %s could not "
                        "judge it; swapped in on its agreement and latency", sh.path, len(sh.candidate), floor)
            return True
        if r < floor:
            self._reject(sh.path, sh.trigger, f"score correlation below scoring.shadow_min_correlation {floor}: "
                         + figures, REFUSED_SHADOW, sh.digest)
            return False
        return True

    def _scale_judged(self, sh: Shadow, figures: str) -> bool:
        """Say, per sensor, when the readings of the window the shadow ended on are not on the scale
        of the candidate's normalisation (another unit, another plant: review21's bundle trained on
        another SKAB rig swapped in with only `score correlation -0.752` logged), as the warm-up
        says of a bundle given at start. A hot swap has no warm-up: this is the data it has. With
        `scoring.shadow_refuse_off_scale` set, a candidate off scale on that share of the sensors or
        more is rejected (False); unset, the default, it is said only (measured: the wrong-rig
        bundles were off scale on half the sensors in 89 % of their shadows, no retrain of the plant in
        any — docs/measured/model-updates.md)."""
        lines = self.pipeline.scale_mismatches(sh.scorer)
        for line in lines:
            log.warning("model update: %s: %s", sh.path, line)
        share, n = self.cfg.scoring.shadow_refuse_off_scale, len(self.cfg.sensor_names())
        lines = [line for line in lines if not isinstance(line, PlantOff)]    # the plant off normal, not the bundle
        if share is None or not lines or len(lines) < share * n:
            return True
        names = ", ".join(line.split(":", 1)[0] for line in lines)
        self._reject(sh.path, sh.trigger, f"{len(lines)} of {n} sensors' readings not on its scale ({names}; "
                     f"scoring.shadow_refuse_off_scale {share}): trained on another plant, or in other units? "
                     + figures, REFUSED_SHADOW, sh.digest)
        return False

    def _reject(self, path: Path, trigger: str, reason: str, verdict: str, digest: str | None) -> None:
        """`path` refused (`verdict`: by the check or the shadow), said, counted, its verdict kept by its manifest's
        `digest`. (The start's check names the bundle itself, first: not said twice.)"""
        said = reason if reason.startswith(f"{path}: ") else f"{path}: {reason}"
        log.warning("model update (%s) rejected: %s; still scoring with %s (%s)", trigger, said,
                    self.pipeline.active_tier(), self.current or "no bundle")
        self.rejected += 1
        self.outcomes.append({"path": str(path), "trigger": trigger, "accepted": False, "reason": reason,
                              "at": time.time()})
        self.verdicts.record(digest, path, verdict, reason)
        self._save_record()

    # -- health -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._loading is not None or self.shadow is not None or self._requested is not None

    def status(self) -> dict:
        state = "idle"
        if self._loading is not None:
            state = "loading"
        if self.shadow is not None:
            state = f"shadow {len(self.shadow.candidate)}/{self.cfg.scoring.shadow_ticks}"
        return {"state": state, "bundle": str(self.current) if self.current else None,
                "bundle_gone": self._gone,
                "models_dir": str(self.models_dir) if self.models_dir else None,
                "models_dir_problem": self.listing_problem,
                "accepted": self.accepted, "rejected": self.rejected,
                "last": self.outcomes[-1] if self.outcomes else None,
                "verdicts": self.verdicts.newest_first(), "started_instead": self.started_instead}

    # -- across restarts ------------------------------------------------------------------------

    def _save_record(self) -> None:
        path = self.cfg.resolve(self.cfg.state_dir) / ACTIVE_FILE
        decided = self.accepted or self.rejected or self.current != self._configured
        active = self.current if decided else None        # the first start's record names no swapped-in bundle
        model_id = self.pipeline.model_id() if active else None
        capped = self.verdicts.bound(self._on_disk)       # (listed only when a verdict could go)
        if capped is not None:
            log.warning("model update: %s (%s)", capped, path)
        if self.current is not None and self.current == self._configured:
            self._configured_known = self._running_digest
        # RAN: the release scoring now, the configured bundle's too (a restart tells it rewritten while down: swap10);
        # CONFIGURED_KNOWN: scoring.bundle's as known here, told rewritten when a restart falls back on it (swap11)
        record = {"version": 1, "path": str(active) if active else None, "model_id": model_id,
                  "config_bundle": self.cfg.scoring.bundle, "seen": {str(p): fp.to_json() for p, fp in self.seen.items()},
                  "verdicts": self.verdicts.to_json(), RAN: self._running_digest,
                  CONFIGURED_KNOWN: self._configured_known}
        try:
            write_record(path.parent, record)
        except OSError as exc:
            # A restart starts on what the file names still (the last record written), not on the configured bundle.
            then = restarts_on(path.parent, self.cfg.scoring.bundle)
            log.error("cannot record the active bundle in %s: %s; a restart will start on %s", path, exc,
                      then or self.cfg.scoring.bundle or "numpy")

    def _on_disk(self) -> set[str] | None:
        """The manifest digests of the releases on disk now — models_dir's bundles, `scoring.bundle`, the one scoring —
        whose verdicts are kept whatever their age (agent/release_verdicts.py `bound`); None when models_dir lists
        nothing (it cannot be read, or a mount is away): every verdict then kept."""
        dirs = self._bundle_dirs()
        if self.models_dir is not None and not dirs:
            return None
        configured = configured_path(self.cfg)
        return {manifest_digest(d) for d in [*dirs, *([configured] if configured else [])]} | {self._running_digest}

    def resume(self, record: dict | Unreadable | None, active: Path | None) -> None:
        """After a restart: `active` is the bundle the pipeline started on (None: the config's);
        the bundles of models_dir the last run had looked at are not candidates, others are."""
        if active is not None:
            self.current = active
            self._running_manifest = self.pipeline.model_manifest()
            self._running_digest = manifest_digest(active)
        moved = active is not None and isinstance(record, dict) and record.get("path") not in (None, str(active))
        rewrite, configured = None, None
        if isinstance(record, dict):
            self.verdicts = Verdicts.from_json(record.get("verdicts"))     # (none in a record written before swap8)
            if active is not None and record.get("config_bundle") == self.cfg.scoring.bundle \
                    and record.get(CONFIGURED_KNOWN) is not None:
                self._configured_known = record[CONFIGURED_KNOWN]   # another runs: scoring.bundle's as known before
            was = record.get("path")
            configured = configured_rewritten(self.cfg, record)     # scoring.bundle rewritten while down (swap10)
            if configured is not None:
                rewrite = configured if active is not None else None    # (started on a release judged here: judge it)
            elif was and was != str(active) and record.get("config_bundle") == self.cfg.scoring.bundle:
                if not Path(was).exists():
                    self.verdicts.withdraw(Path(was), "gone from models_dir while the agent was down")
                elif rewritten(record, Path(was), self.models_dir, self.verdicts):
                    rewrite = Path(was)
        if isinstance(record, dict):
            self.started_instead = self._started_instead(record, active, configured, rewrite, moved)
        if isinstance(record, Unreadable):
            self._resume_without_record(record)
        elif record is not None and (self.models_dir is not None or configured is not None):
            self.seen = {Path(p): Fingerprint.from_json(fp) for p, fp in record["seen"].items()}
            self._forget_gone(self._bundle_dirs())
            if rewrite is not None:
                self._rewritten_in_place(rewrite, record.get(RAN), verified=rewrite == configured)
            if moved or rewrite is not None or configured is not None or self.started_instead is not None \
                    or record.get("config_bundle") != self.cfg.scoring.bundle:
                # started on the release before the recorded one (gone, rewritten in place), on scoring.bundle
                # rewritten (its digest: said once), or on scoring.bundle changed since: the record names it now
                # (else one rewritten after the change was taken for the operator's new choice again: swap10; and
                # started on scoring.bundle instead of the release gone, it was said again at every restart: swap11)
                self._save_record()
        elif self.models_dir is not None:
            # The first start: what models_dir holds now is recorded as there before it, so that a bundle
            # dropped after it (during the warm-up, or while the agent is down) is a candidate after any
            # restart — without the record, a restart took it for one there at start-up, never looked at.
            self._save_record()

    def _started_instead(self, record: dict, active: Path | None, configured: Path | None, rewrite: Path | None,
                         moved: bool) -> str | None:
        """For health (`model_update.started_instead`): what this start runs instead of the release that ran before
        the stop, and why (agent/active_bundle.py said it in the log); None when it runs that release."""
        running = f"{self.current or 'numpy'}" + (" (scoring.bundle)" if self.current == self._configured else "")
        if configured is not None:
            why = (f"scoring.bundle {configured} {how_changed(configured)} (manifest.json sha256 "
                   f"{(manifest_digest(configured) or '?')[:12]}…, the release that ran {record[RAN][:12]}…)")
            if active is None:
                return f"{why}: started on it unjudged, no release judged here to start on instead"
            refused = configured_refusal(self.verdicts, configured)
            return (f"{why}: started on {running}, the last release judged here; "
                    + (f"it holds a release {refused}: not judged again until it changes" if refused
                       else "it is judged as a delivery (shadow, swap)"))
        if rewrite is not None:
            return (f"the active bundle {rewrite} rewritten in place while the agent was down: started on {running}; "
                    + ("refused before, not judged again until it changes" if self.verdicts.refusal(rewrite)
                       else "it is judged as a delivery (shadow, swap)"))
        if moved or (record.get("path") not in (None, str(self._configured)) and active is None
                     and record.get("config_bundle") == self.cfg.scoring.bundle):
            also = configured_also_rewritten(self.cfg, record) if self.current == self._configured else None
            return (f"the active bundle {record['path']} no longer loads (gone, or not verifying): started on {running}"
                    + (f"; {also}" if also else ""))
        return None

    def _rewritten_in_place(self, path: Path, ran: str | None, verified: bool = False) -> None:
        """The active bundle's directory `path` rewritten in place (while the agent was down, or by a release the
        running agent refused in shadow), not started on at this restart (agent/active_bundle.py `rewritten`, said
        there): the release that ran there is `withdrawn` (by its manifest digest `ran`; a record before swap9 kept
        none), and the release there now is a delivery, judged at the first poll — forgotten from `seen`, since a copy
        that kept the files' times may have kept its fingerprint too. Unless the shadow or the check refused it
        already (the running agent judged it, kept the release before scoring, and stopped): not judged again until it
        changes, as while running. `verified`: `scoring.bundle`, which the start's check passed (a refusal by the
        check was of a copy since completed: judged), rewritten while down; outside models_dir it is judged at the
        first poll all the same (no poll would find it: swap10)."""
        if ran is not None and self.verdicts.of(ran) is not None:
            self.verdicts.record(ran, path, WITHDRAWN, "rewritten in place (another release copied over its "
                                 "directory), found at a restart")
        if (configured_refusal(self.verdicts, path) if verified else self.verdicts.refusal(path)) is not None:
            return
        if self._in_models_dir(path):
            self.seen.pop(path, None)
        else:       # scoring.bundle outside models_dir, rewritten while down (swap10): no poll looks at it
            self._rewritten_configured = path

    def _resume_without_record(self, unreadable: Unreadable) -> None:
        """active-bundle.json is there but unreadable (cut short by a power cut, corrupt, a directory), or
        lost (missing, the checkpoint shows: agent/active_bundle.py):
        which bundle a swap made active, and which models_dir bundles the last run decided on, is lost.
        Taking every bundle there for decided (a first start's rule) would drop one delivered while the
        agent was down without a word; judging them all, newest first, could put an older release back
        over the newest. So the newest is judged at the first poll (the bundle a SIGHUP asks for: the
        last release, swapped in again or refused with its reason), the older ones are taken as decided
        and named in the line, and the record is written again."""
        self.record_problem = f"{unreadable.path}: {unreadable.why}"
        dirs = self._bundle_dirs()
        newest = max(dirs, key=dirs.get, default=None)
        self.seen = {d: fp for d, fp in dirs.items() if d not in (newest, unreadable.judge)}
        older = sorted(d.name for d in self.seen)
        if self.models_dir is None:
            judged = "no models_dir to look at"
        elif newest is None:
            judged = f"{self.models_dir} holds no bundle"
        else:
            judged = f"the newest bundle of models_dir, {newest}, is judged at the first poll"
            if unreadable.judge is not None and unreadable.judge != newest and unreadable.judge in dirs:
                judged += (f", then {unreadable.judge}, the checkpoint's bundle, not started on (rewritten since or no "
                           "longer loading: said above)")
            if older:
                judged += (f"; the {len(older)} older one(s) there ({', '.join(older)}) are taken as decided "
                           "(SIGHUP asks for the newest)")
        log.error("%s %s: the bundle a hot swap made active and the models_dir bundles already "
                  "decided on are lost; starting on %s; %s", unreadable.path, unreadable.said(),
                  self.current or "numpy", judged)
        self._save_record()


def _judged_explanation(names: list[str], sensor_scores, top_k: int) -> dict:
    """The shadow's alerts are never sent, but the rules that end them read their drivers (the level hold: the
    explanation's top sensors over the threshold, agent/alert_events.py `drivers`): the candidate's top sensors;
    no time steps, no origin."""
    return {"top_sensors": ranked(names, sensor_scores, top_k)[2], "top_steps": [], "origin": None}


def _installed(tier: str) -> bool:
    """Whether a tier's runtime library imports here."""
    return runtimes()[tier].available()


__all__ = ["HotSwap", "NEW_BUNDLE", "POLL_EVERY_TICKS", "Shadow", "SwapTarget"]
