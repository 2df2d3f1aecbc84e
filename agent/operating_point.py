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
A sensor that read one value on every tick of that window is no operating point (a plant elsewhere still moves
its sensors): it is said on a line of its own, pointing at what it reads — user36: a register map typo (a pump's
vibration mapped to a spare register reading 0) was told as "it runs elsewhere than where that normal was
learned … move the checkpoint aside and start again", a cure that would have learnt the typo's 0 as normal.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, NamedTuple

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


class Far(NamedTuple):
    sensor: str
    live: float         # its median over the window, in its unit (rounded to a thousandth of its normal spread)
    mean: float
    std: float
    z: float            # how far, in the normal's standard deviations
    held: bool          # it read one value on every observed tick of the window


def far_sensors(values: np.ndarray, missing: np.ndarray, normaliser: Normaliser, sensors: list[str]) -> list[Far]:
    """Each sensor whose median over the window's observed ticks (normalised `values`, T × N) lies more than FAR_SD
    from its normal, farthest first."""
    observed = np.where(missing, np.nan, values.astype(np.float64))
    with np.errstate(all="ignore"):
        if not np.isfinite(observed).any():
            return []
        z = nanmedian_columns(observed)     # np.nanmedian(observed, axis=0) without numpy.ma (~1.3 MiB, at the peak)
        finite = np.isfinite(observed)      # (np.nanmax warns on a column of NaN: a sensor with no reading)
        spread = np.where(finite, observed, -np.inf).max(axis=0) - np.where(finite, observed, np.inf).min(axis=0)
        seen = finite.sum(axis=0)
    floored = normaliser.floored()
    out = [Far(name, _rounded(float(normaliser.mean[i] + z[i] * normaliser.std[i]), float(normaliser.std[i])),
               float(normaliser.mean[i]), float(normaliser.std[i]), float(z[i]),
               bool(seen[i] >= 2 and spread[i] <= HELD_SD))
           for i, name in enumerate(sensors) if np.isfinite(z[i]) and abs(z[i]) > FAR_SD and not floored[i]]
    return sorted(out, key=lambda s: -abs(s.z))


#: a window's spread (in the normal's standard deviations) at or under which a sensor read one value throughout: the
#: normalised values of one constant differ by rounding only
HELD_SD = 1e-6


def _rounded(live: float, std: float) -> float:
    """`live` to a thousandth of `std`: a register's 0 back from normalised units read 5.156e-09 (user36)."""
    places = max(0, 3 - math.floor(math.log10(std))) if std > 0 and math.isfinite(std) else 6
    return round(live, places) + 0.0       # + 0.0: no -0


def say_far(window: WindowBuffer, normaliser: Normaliser | None, sensors: list[str], warmed_on: str | None,
            checkpoint: str | None = None, carried_alert: tuple[str, float] | None = None) -> list[Far]:
    """One WARNING naming the sensors `far_sensors` finds that moved, one naming those it finds held at one value
    (none: nothing said). Where the normal was learned, for
    the cure: `checkpoint`, the checkpoint this life resumed (its normal came from the first warm-up, and a
    warmup.replay changed since is not read while it resumes), else `warmed_on`, the warm-up recording.
    `carried_alert`: (alert_id, start) of an alert open since before this life's first tick: said first."""
    if normaliser is None:
        return []
    found = far_sensors(window.values, window.missing, normaliser, sensors)
    held = [f for f in found if f.held]
    if held:
        log.warning("first score: %d of %d sensor(s) read one value on every tick of the first scored window, far "
                    "from their normal: %s; a plant running elsewhere still moves its sensors — check what each reads "
                    "(its address in the config: a register, topic or column mapped to another; its wiring or "
                    "transmitter) before learning anything anew: learnt as normal, that value would hide the sensor "
                    "for good (a fault is paged while it stays so)", len(held), len(sensors), ", ".join(
                        f"{f.sensor} (reads {f.live:.4g}, normal {f.mean:.4g} ± {f.std:.2g}: {f.z:+.0f} sd)"
                        for f in held[:6]) + (f" and {len(held) - 6} more" if len(held) > 6 else ""))
    far = [f for f in found if not f.held]
    if not far:
        return found
    shown = ", ".join(f"{f.sensor} (live median {f.live:.4g}, normal {f.mean:.4g} ± {f.std:.2g}: {f.z:+.0f} sd)"
                      for f in far[:6])
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
        return found
    log.warning("first score: the live data lies far from the normal it is scored against for %d of %d sensor(s): "
                "%s%s; if the plant runs as it should, it runs elsewhere than where that normal was learned and alerts "
                "may say only that — %s", len(far), len(sensors), shown, more, cure)
    return found


__all__ = ["FAR_SD", "Far", "far_sensors", "say_far"]
