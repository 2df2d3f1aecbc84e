"""At the first score of an agent's life: the sensors whose live values lie far from the normal they are scored
against (the normaliser's: the warm-up's, or the bundle's training data's), said once, with the figures.

Why (user13, user14): a `warmup.replay` recording taken at another operating point — SKAB's anomaly-free run at
125 l/min and 0.21 g beside a skid running at 32 l/min and 0.03 g, a fluid 3 °C warmer — made the first score an
alert on normal running (score 100 against a threshold of 10.8), open for as long as the plant ran so: the
fallback learns on calm ticks only. Nothing in the alert or the log pointed at the recording; an operator chased
the sensors it named. Said at the first score whose window holds this life's live ticks only (after the refill that
follows a recorded warm-up or a long restart gap; `window.steps` ticks into a restart that kept the checkpoint's
window, whose first scores read the last run's ticks — user21: a valve shut just before a stop was told at the next
start as an operating point elsewhere, with "move the checkpoint aside" as the cure), once per life; a sensor whose
normal spread is the normaliser's floor (it did not move where the normal was learned) is left out: it has a warning
of its own. An alert open since before this life's first tick (continued across the restart) may be all the
distance is — an incident going on: then the cure waits for its end (user24: a standstill queue across a restart
was told to the operator as another operating point, "move the checkpoint aside", with the incident's alert open).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .alert_events import iso
from .quantile import nanmedian_columns

if TYPE_CHECKING:
    from .window import Normaliser, WindowBuffer

log = logging.getLogger("stad.agent")

#: how far (in the normal's standard deviations) a sensor's median over the first scored window must lie to be
#: named: live running of the operating point the normal was learned at stays within a few; SKAB's valve runs
#: against the anomaly-free recording lie 30–60 away.
FAR_SD = 8.0


def far_sensors(values: np.ndarray, missing: np.ndarray, normaliser: Normaliser, sensors: list[str]) -> list[tuple]:
    """(sensor, live median, normal mean, normal std, distance in std) of each sensor whose median over the
    window's observed ticks (normalised `values`, T × N) lies more than FAR_SD from its normal, farthest first."""
    observed = np.where(missing, np.nan, values.astype(np.float64))
    with np.errstate(all="ignore"):
        if not np.isfinite(observed).any():
            return []
        z = nanmedian_columns(observed)     # np.nanmedian(observed, axis=0) without numpy.ma (~1.3 MiB, at the peak)
    floored = normaliser.floored()
    out = [(name, float(normaliser.mean[i] + z[i] * normaliser.std[i]), float(normaliser.mean[i]),
            float(normaliser.std[i]), float(z[i]))
           for i, name in enumerate(sensors) if np.isfinite(z[i]) and abs(z[i]) > FAR_SD and not floored[i]]
    return sorted(out, key=lambda s: -abs(s[4]))


def say_far(window: WindowBuffer, normaliser: Normaliser | None, sensors: list[str], warmed_on: str | None,
            checkpoint: str | None = None, carried_alert: tuple[str, float] | None = None) -> list[tuple]:
    """One WARNING naming the sensors `far_sensors` finds (none: nothing said). Where the normal was learned, for
    the cure: `checkpoint`, the checkpoint this life resumed (its normal came from the first warm-up, and a
    warmup.replay changed since is not read while it resumes), else `warmed_on`, the warm-up recording.
    `carried_alert`: (alert_id, start) of an alert open since before this life's first tick: said first."""
    if normaliser is None:
        return []
    far = far_sensors(window.values, window.missing, normaliser, sensors)
    if not far:
        return far
    shown = ", ".join(f"{name} (live median {live:.4g}, normal {mean:.4g} ± {std:.2g}: {z:+.0f} sd)"
                      for name, live, mean, std, z in far[:6])
    more = f" and {len(far) - 6} more" if len(far) > 6 else ""
    if checkpoint:
        cure = (f"this normal is the one {checkpoint} keeps from its first warm-up: to learn this operating point's, "
                "stop the agent, move the checkpoint aside and start again (warmup.replay a recording of this "
                "operating point, or none to warm up live)")
    elif warmed_on:
        cure = f"warm up on a recording of this operating point (warmup.replay is {warmed_on})"
    else:
        cure = "warm up on running of this operating point"
    if carried_alert is not None:
        alert_id, start = carried_alert
        log.warning("first score: the live data lies far from the normal it is scored against for %d of %d "
                    "sensor(s): %s%s; alert %s, open since %s (before this start), is still open: that may be all it "
                    "is — what the alert reports, going on across the restart. If these sensors stay so once it "
                    "has ended and the plant runs as it should, it runs elsewhere than where that normal was learned "
                    "— %s",
                    len(far), len(sensors), shown, more, alert_id, iso(start), cure)
        return far
    log.warning("first score: the live data lies far from the normal it is scored against for %d of %d sensor(s): "
                "%s%s; if the plant runs as it should, it runs elsewhere than where that normal was learned and alerts "
                "may say only that — %s", len(far), len(sensors), shown, more, cure)
    return far


__all__ = ["FAR_SD", "far_sensors", "say_far"]
