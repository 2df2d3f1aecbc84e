"""The fallback chain: score with the highest healthy tier, step down on any fault.

A tier is stepped down from when its scorer raises, returns NaN/inf, or exceeds the latency
budget for `fault_ticks` ticks in a row; the tick is then scored by the next tier, so no tick
goes unscored. A tier that failed transiently is retried after `probation_ticks`. The numpy
fallback is last, always present, and learns on every calm tick whichever tier is active.

Blending (`scoring.blend_numpy` w > 0): while a model tier scores, the numpy fallback scores the
same tick too, and each sensor's score becomes (model / model threshold + w · numpy / numpy
threshold) / (1 + w), times the model threshold — so the model tier's threshold still judges it.
Why: the two err in different places. On SKAB the model tier's level profile keeps alarming
while a pump settles a little off its warm-up normal (labelled normal), where the fallback's
forecasters have already followed the new level; the fallback misses lasting shifts the profile
holds. Each over its own threshold, a tick alarms when the two together say so. The chain stays
the answer to faults: a model tier that fails is stepped down from, and numpy then scores alone.
A hot-swap candidate is judged in shadow blended the same way, with the fallback's score of the tick
(`fallback_score`: the one the tick was blended with, before the fallback learned the tick).

Standby tiers (agent/scorers/standby.py): a model tier below the top one starts verified but not
loaded. The first step down to it starts its load on a thread of its own (`load`, then `prepare`,
the pipeline's preparation of a tier that missed warm-up) and steps over it: the next tier down
scores meanwhile, so no tick goes unscored. Between two ticks the loaded tier takes the standby's
place (`install`: its threshold into the detector) and, unless on probation, takes over as a tier
stepped down to does. A load that fails is one log line; the standby is then skipped for good.

Each switch is one log line at the level an operator should read it at (user13, user14): a step down — a
fault — is a WARNING; a step up (probation over, a standby loaded, a hot swap, a model tier prepared after a
restart) and a swap within a tier are INFO. The fallback scoring while the model tier waits to be prepared
after a restart (`wait_below`) is planned, not a fault: INFO, said at the first tick it holds for — prepared
before that tick (on warmup.replay), the wait and its end are one line, the tier's, said as what happened to it
(`scorer tier tflite: prepared on 200 ticks of warmup.replay …`: no tick scored below it).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Callable

import numpy as np

from .base import Scorer, ScorerError, TickScore, tick_score
from .standby import StandbyTier

if TYPE_CHECKING:
    from ..config import ScoringConfig
    from ..window import WindowBuffer

log = logging.getLogger("stad.scorer")


#: Called in the tick thread with the standby whose load starts (the pipeline's snapshot of what it needs);
#: returns what prepares the loaded scorer in the load thread, which returns what installs it (its
#: thresholds) in the tick thread.
Prepare = Callable[[StandbyTier], Callable[[Scorer], Callable[[], None]]]


class ScorerChain:
    def __init__(self, tiers: list[Scorer], cfg: ScoringConfig, prepare: Prepare | None = None):
        self.tiers = self._checked(tiers)
        self.prepare = prepare
        self.loading: threading.Thread | None = None     # a standby's load (at most one at a time)
        self._loaded: tuple | None = None    # (tiers list it was loaded for, index, scorer or None, install)
        self.cfg = cfg
        self.active = 0
        self.over_budget = 0
        self.benched: dict[int, int] = {}      # tier index -> ticks left on probation
        self.switches: deque[dict] = deque(maxlen=100)   # the latest switches, for the health report
        self.switch_count = 0
        self.fallback_score: TickScore | None = None    # the fallback's score of the last tick, when computed
        self.last_latency_s = 0.0
        self._wait_unsaid: tuple[str, str] | None = None  # (tier before, reason) of a wait_below no tick saw yet

    @staticmethod
    def _checked(tiers: list[Scorer]) -> list[Scorer]:
        if not tiers or tiers[-1].TYPE != "numpy":
            raise ValueError("the chain must end with the numpy scorer")
        return tiers

    @property
    def numpy(self) -> Scorer:
        return self.tiers[-1]

    @property
    def current(self) -> Scorer:
        return self.tiers[self.active]

    @property
    def tier(self) -> str:
        return self.current.TYPE

    def replace(self, tiers: list[Scorer], reason: str) -> None:
        """Install a new list of tiers (hot swap): start again from the top."""
        old, kept = self.tier, False
        if self._wait_unsaid is not None:   # prepared before any tick waited: the tier as it was before the wait
            old, self._wait_unsaid, kept = self._wait_unsaid[0], None, True
        self.tiers = self._checked(tiers)
        self._loaded, self.loading = None, None    # a standby load still running is for the old tiers: dropped
        self.benched.clear()
        self.active = 0
        self._switch(0, reason, old=old, kept=kept)

    def wait_below(self, reason: str) -> None:
        """The fallback scores while the model tiers wait to be prepared (a restart onto another bundle or
        profile: pipeline_state.prepare_restored); none is benched, so nothing retries them: `replace` puts them back.
        Planned, not a fault: said at INFO by the first tick scored so (`_say_wait`), not at all when `replace`
        comes first (the tier prepared on warmup.replay before the first live tick: its line says it)."""
        self._wait_unsaid = (self.tier, reason)
        self._switch(len(self.tiers) - 1, reason, said=False)

    def _say_wait(self) -> None:
        old, reason = self._wait_unsaid
        self._wait_unsaid = None
        log.info("scorer tier %s -> %s (planned, not a fault): %s", old, self.tier, reason)

    def score(self, window: WindowBuffer) -> TickScore:
        if self._wait_unsaid is not None:
            self._say_wait()
        if self._loaded is not None:
            self._install_loaded()
        if self.benched:
            self._probation_tick()
        while True:
            scorer = self.tiers[self.active]
            t0 = time.perf_counter()
            try:
                result = scorer.score(window)
                if not math.isfinite(result.score) or (not scorer.SCORE_COVERS_SENSORS
                                                       and not np.logical_and.reduce(np.isfinite(result.sensor_scores))):
                    raise ScorerError("returned NaN/inf scores")
            except Exception as exc:  # noqa: BLE001 — any fault in a runtime means: step down
                if self.active == len(self.tiers) - 1:
                    raise
                self._step_down(f"{type(exc).__name__}: {exc}")
                continue
            self.last_latency_s = took = time.perf_counter() - t0
            # (the fallback has no budget; a tick within it with none over before changes nothing)
            if self.active != len(self.tiers) - 1 and (self.over_budget or took * 1000 > self.cfg.latency_budget_ms):
                self._check_budget()
            return result

    def score_blended(self, window: WindowBuffer, threshold: Callable[[str], float]) -> TickScore:
        """`score`, blended with the numpy fallback's score while a model tier is active (see the
        module docstring); `threshold(tier)` is that tier's current threshold."""
        result = self.score(window)
        self.fallback_score = result if result.tier == "numpy" else None
        weight = self.cfg.blend_numpy
        if weight <= 0 or result.tier == "numpy":
            return result
        self.fallback_score = self.numpy.score(window)
        return blend(result, self.fallback_score, threshold(result.tier), threshold("numpy"), weight)

    def learn(self, window: WindowBuffer, calm: Callable[[float, int], bool] | None = None) -> None:
        """A calm tick: the fallback learns it, and the active model tier (`calm`: the detector's rule, which
        the tier may ask of its own unblended score, Scorer.learn)."""
        self.numpy.learn(window)
        if self.active != len(self.tiers) - 1:
            self.current.learn(window, calm)

    def _check_budget(self) -> None:
        if self.last_latency_s * 1000 > self.cfg.latency_budget_ms:
            self.over_budget += 1
            if self.over_budget >= self.cfg.fault_ticks:
                self._step_down(f"over the latency budget ({self.last_latency_s * 1000:.2f} ms > "
                                f"{self.cfg.latency_budget_ms} ms for {self.over_budget} ticks)")
        else:
            self.over_budget = 0

    def _step_down(self, reason: str) -> None:
        self.benched[self.active] = self.cfg.probation_ticks
        # Skip tiers still on probation: they failed recently, the next healthy one scores.
        last = len(self.tiers) - 1
        nxt = next(i for i in range(self.active + 1, last + 1)
                   if (i not in self.benched and not self._on_standby(i)) or i == last)
        self._switch(nxt, f"{self.tier} failed: {reason}")

    def _on_standby(self, index: int) -> bool:
        """Whether tier `index` is a standby (not loaded): its load is started here, once."""
        tier = self.tiers[index]
        if not isinstance(tier, StandbyTier):
            return False
        if tier.failed is None and self.loading is None:
            self._start_load(index, tier)
        return True

    def _start_load(self, index: int, standby: StandbyTier) -> None:
        tiers = self.tiers
        prepare = self.prepare(standby) if self.prepare is not None else None     # (in the tick thread)

        def work() -> None:
            try:
                scorer = standby.load()
                install = prepare(scorer) if prepare is not None else None
                self._loaded = (tiers, index, scorer, install)
            except Exception as exc:  # noqa: BLE001 — a runtime that cannot load: the chain stays below it
                standby.failed = f"{type(exc).__name__}: {exc}"
                log.warning("scorer %s could not be loaded (%s); it is skipped", standby.TYPE, standby.failed)
                self._loaded = (tiers, index, None, None)

        log.info("scorer %s: loading the standby tier (the tier below scores meanwhile)", standby.TYPE)
        self.loading = threading.Thread(target=work, name=f"standby-{standby.TYPE}", daemon=True)
        self.loading.start()

    def _install_loaded(self) -> None:
        """Between ticks: the loaded standby takes its place and, unless on probation, over from a tier below."""
        tiers, index, scorer, install = self._loaded
        self._loaded, self.loading = None, None
        if tiers is not self.tiers or scorer is None:
            return
        self.tiers[index] = scorer
        if install is not None:
            install()
        if index < self.active and index not in self.benched:
            self._switch(index, f"{scorer.TYPE} loaded (standby)")

    def _probation_tick(self) -> None:
        for i in list(self.benched):
            self.benched[i] -= 1
            if self.benched[i] <= 0:
                del self.benched[i]
                if i < self.active:
                    self._switch(i, f"probation over, retrying {self.tiers[i].TYPE}")

    def _switch(self, index: int, reason: str, old: str | None = None, said: bool = True, kept: bool = False) -> None:
        """Make tier `index` the active one; `old`: the tier it replaces when not the active one (a hot swap's
        `replace`: the old list's). A step down the chain is a WARNING (a tier failed), any other switch INFO;
        `said` False: logged by the caller's own rule (`wait_below`). `kept`: no tick was scored below `old`
        since (a wait prepared before its first tick): the same tier is then said as what happened to it,
        `scorer tier tflite: prepared on …`, not as a switch (`tflite -> tflite`: user15)."""
        if old is None:
            old = self.tiers[self.active].TYPE if self.active < len(self.tiers) else "none"
        self.active = index
        self.over_budget = 0
        new = self.tiers[index].TYPE
        self.switches.append({"from": old, "to": new, "reason": reason, "at": time.time()})
        self.switch_count += 1
        if said and kept and new == old:
            log.info("scorer tier %s: %s", new, reason)
        elif said:
            log.log(logging.WARNING if self._below(new, old) else logging.INFO, "scorer tier %s -> %s: %s", old,
                    new, reason)

    def _below(self, new: str, old: str) -> bool:
        """Whether tier `new` lies further down this chain than `old` (a tier not in it: not below)."""
        order = [t.TYPE for t in self.tiers]
        return old in order and new in order and order.index(new) > order.index(old)


def blend(model: TickScore, fallback: TickScore, model_threshold: float, numpy_threshold: float,
          weight: float) -> TickScore:
    """Each sensor's (model / model_threshold + weight · fallback / numpy_threshold) / (1 + weight),
    times model_threshold; the tick's score is the worst sensor's, the explanation the model's."""
    scale = weight * model_threshold / numpy_threshold
    s = (model.sensor_scores + scale * fallback.sensor_scores) / (1.0 + weight)
    return TickScore(sensor_scores=s, score=tick_score(s), tier=model.tier, explanation=model.explanation)
