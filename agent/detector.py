"""The detection rule, written once: a tick's score → the active tier's threshold → the alert
tracker → learn on calm ticks.

The daemon's pipeline, the hot-swap shadow run (a candidate bundle judged beside the running
one) and evaluate's baselines all decide through a Detector, so a change to the rule changes
all three and what is measured is what runs.

Learning: models learn from ticks under the threshold, even while an alert is open; a change
that outlasts `accept_after_s` is learned as the new normal rather than alerting for ever.
The threshold itself learns only outside alerts, and not for `threshold.quiet_s` after a tick
above it (what it learns there is its own rule: agent/threshold.py). The Detector does not own the models: the
caller passes `learn`, called on the ticks the models should learn from.

Operator feedback (agent/feedback.py), when configured, lifts the threshold after a false alarm
(bounded, fading) and keeps a confirmed alert from being learned as normal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .alerts import AlertEvent, AlertTracker
from .threshold import AdaptiveThreshold

if TYPE_CHECKING:
    from .alert_station import StationMates
    from .config import AlertConfig
    from .feedback import FeedbackMemory


@dataclass
class Decision:
    """What the rule decided on one tick."""
    threshold: float                  # the threshold the tick was judged against
    above: bool                       # score > threshold: the alert decision
    calm: bool                        # the models learned from this tick
    events: list[AlertEvent] = field(default_factory=list)


class Detector:
    """Per-tier adaptive thresholds and one alert tracker. `thresholds` is keyed by tier name;
    `add` puts in more (numpy's after warm-up, a swapped-in bundle's)."""
    TIME_FIELDS = ("held_until", "above_at")   # seconds on the time base (agent/timebase.py)

    def __init__(self, alerts: AlertConfig, node: str, site: str, tick_s: float,
                 thresholds: dict[str, AdaptiveThreshold] | None = None, hold_ticks: int = 0, fault_ticks: int = 0,
                 window_ticks: int = 32, drifting: tuple[str, ...] = (), residue_fraction: float = 0.0,
                 station: StationMates | None = None):
        self.tracker = AlertTracker(alerts, node, site, tick_s, hold_ticks=hold_ticks, fault_ticks=fault_ticks,
                                    window_ticks=window_ticks, drifting=drifting, residue_fraction=residue_fraction,
                                    station=station)
        self.accept_after_s = alerts.accept_after_s
        self.thresholds: dict[str, AdaptiveThreshold] = {}
        self.add(thresholds or {})
        self.feedback: FeedbackMemory | None = None     # set by the agent when feedback is configured
        # After a restart the alert state may be newer than the rest (agent/checkpoint.py): ticks up
        # to this one were judged already; they are scored and learned from, not judged again.
        self.held_until: float | None = None
        self.above_at = float("-inf")   # the last tick above the threshold (not checkpointed: at most
                                        # quiet_s of a tail is learned after a restart)
        self._learns_at = (float("-inf"), False, 0)  # (fitted threshold, alert accepted, ticks since an alert) of the tick in `step`
        self.since_alert = 1 << 62      # ticks since an alert was last open (0: one is); not checkpointed, like above_at
        self._alert_over = 0.0          # the open alert's largest score / threshold yet (feedback); not checkpointed:
                                        # a restart keeps what feedback was told, and the alert's peak on its model

    def add(self, thresholds: dict[str, AdaptiveThreshold]) -> None:
        for tier, thr in thresholds.items():
            thr.tier = tier             # its log lines name the tier whose threshold they speak of
        self.thresholds.update(thresholds)

    def threshold(self, tier: str) -> float:
        """The tier's threshold as ticks are judged now (with feedback's lift)."""
        value = self.thresholds[tier].current
        return value if self.feedback is None else value * (1 + self.feedback.lift(self.feedback.now))

    def step(self, ts: float, score: float, tier: str, model: Callable[[], dict], explain: Callable[[], dict],
             learn: Callable[[], None] | None = None, hold: Callable[[], bool] | None = None,
             levels: Callable[[], dict[str, float]] | None = None, discord: float | None = None,
             rejudge: Callable[[str], float] | None = None,
             unheard: Callable[[list[str]], str | None] | None = None,
             scores: Callable[[], dict[str, float]] | None = None) -> Decision:
        """Judge one tick scored by `tier`. `model` and `explain` are zero-argument callables (only
        ticks that raise or update an alert pay for them); `learn` teaches the models a calm tick;
        `hold` says an alert about to open should wait (sensor-fault hold-back, up to hold_ticks);
        `levels` gives each sensor's level distance from warm-up (alerts.hold_sigma); `discord`: the
        threshold in force on a tick whose shape is a record (agent/discord.py), when it is lower;
        `rejudge`: an alert's re-judge for a sensor fault; `unheard`: whether one of the named sensors is not
        heard this tick; `scores`: the tick's sensor scores (all three AlertTracker.observe)."""
        thr = self.thresholds[tier]
        lift = 1.0
        fb = self.feedback
        if fb is not None:
            fb.now = ts
            lift += fb.lift(ts)
        value = thr.at(ts) * lift          # judged against: the fitted value, or the recurring level
        if discord is not None:            # threshold.discord_ticks: a shape never seen before
            value = min(value, discord * lift)
        fitted = thr.value * lift          # learned against (below)
        held = self.held_until is not None and ts <= self.held_until
        tracker = self.tracker
        was_open = tracker.open
        events = [] if held else tracker.observe(ts, score, value, tier, model, explain, hold, levels, rejudge,
                                                      unheard, scores)
        open_alert = tracker.open
        if fb is not None and (events or open_alert is not None):
            self._tell_feedback(fb, ts, score, thr.current, events, was_open)
        if open_alert is None:
            accepted = False
            since = self.since_alert = self.since_alert + 1
        else:
            accepted = (ts - open_alert.start >= self.accept_after_s
                        and (fb is None or open_alert.alert_id not in fb.confirmed))
            since = self.since_alert = 0
        self._learns_at = (fitted, accepted, since)
        # `calm(score)` written out (perf54: one call less a tick): `since` ≥ 0 is never ≤ its default -1
        calm = score <= fitted or accepted
        if calm and learn is not None:
            learn()
        thr.seen(ts, score)
        above = score > value
        if above:
            self.above_at = ts
        # Outside alerts, and (threshold.quiet_s) not between an event's peaks: an incident whose
        # scores hover about the threshold would otherwise teach it its own sub-threshold ticks.
        if not tracker.active and ts - self.above_at >= thr.cfg.quiet_s:
            thr.update(score)              # it learns calm scores, and more with `threshold.learn_above`
        return Decision(value, above, calm, events)     # (by position: no dict of keywords, perf51)

    def _tell_feedback(self, fb: FeedbackMemory, ts: float, score: float, base: float, events: list[AlertEvent],
                       was_open) -> None:
        """Feedback learns how far over its threshold each alert went: the largest score / threshold of its ticks,
        each over the threshold of the model that scored it, and the peak on the model scoring now over its
        threshold (AlertTracker's `model_peak`: journaled, so a restart onto the same model loses no tick). Not the
        alert's `peak_score` over the current threshold: across a hot swap or a restart onto another bundle that
        was the old model's raw peak over the new model's threshold (review34: against a new model on a larger
        scale an alert 1.5× over its own threshold was remembered as far under, and a false alarm lifted nothing)."""
        over = score / base if base > 0 else 1.0
        self._alert_over = over if any(ev.event == "new" for ev in events) else max(self._alert_over, over)
        for ev in events:
            a = self.tracker.open if ev.event != "end" else was_open
            peak = ev.peak_score if a is None else (a.peak if a.model_peak is None else a.model_peak)
            fb.seen(ev.alert_id, ts, max(self._alert_over, peak / base if base > 0 else 1.0))

    def calm(self, score: float, after_alert_ticks: int = -1) -> bool:
        """Whether `score` is learned from on the tick being judged (valid inside `step`, e.g. from its
        `learn`): the rule, written once. A model tier whose score was blended asks it of its own score
        (model_scorer.py, `scale_half_life_ticks`): a tick calm to the blend but hot to the tier teaches it nothing.
        `after_alert_ticks` ≥ 0 (the tier's scale, `scale_after_alert_ticks`): nor does a tick while an alert is
        open or in the `after_alert_ticks` after it ended — a plant under an alert is not one to learn normal from
        (SKAB valve1/0: the anomaly's sub-threshold ticks widened the scale, twenty-eighth round)."""
        fitted, accepted, since_alert = self._learns_at
        if since_alert <= after_alert_ticks:
            return False
        # The models learn against the fitted threshold: a tick that only the recurring level let
        # pass (a daily job's spike, threshold.recurring_*) is not news, but not normal data either —
        # learned, it widened the forecaster's residual scale and cost a window on NAB (README).
        return score <= fitted or accepted

    def close(self, ts: float, tier: str, model: Callable[[], dict], reason: str) -> list[AlertEvent]:
        """End an open alert (shutdown, end of data) so that no one is left with a dangling one."""
        if not self.tracker.active:
            return []
        return [self.tracker.close(ts, self.tracker.open.peak, self.thresholds[tier].current, tier, model, reason)]


__all__ = ["Decision", "Detector"]
