"""drift: a slow departure from the sensor's neighbours that the neighbours do not share.

A fusion model per sensor — its standardised value regressed on the mean of its observed,
healthy neighbours (the topology's rule; its station / machine mates when it has none), fitted
online on healthy ticks — explains what the sensor should read from its neighbours. The residual
over its normal spread is averaged with a half-life of `drift_window_s`, and that running mean
over its own normal spread is the departure D. A sensor drifts when |D| > `drift_z` for
`drift_s` while every sensor it should move with (neighbours and mates) stays under drift_z / 2
and within CALM_LEVEL spreads of its own recent level: the model attributes the change to the
sensor, not the process. An incident moves the
station's other measures and then its neighbours (a queue grows upstream): never a drift.

Sensors that look suspect (|D| over drift_z / 2) are left out of their neighbours' means, so one
drifting sensor does not drag its neighbours along. After any fault the sensor's normal level
and regression are stale: drift is judged again only after 3 × drift_window_s of healthy ticks.

Check on site: calibration (zero / span) of the transmitter, a loop whose sensitivity changed
(pavement damage, a loose connection), fouling or ageing of the sensing element.
"""
from __future__ import annotations

import numpy as np

from .config import FaultConfig
from .rule import Held, Tick

CLIP = 3.0      # residuals beyond this many normal spreads are learned as this many
CALM_LEVEL = 2.5   # a neighbour this many spreads from its own recent level is not calm: the process moves


class Drift:
    KIND = "drift"

    def __init__(self, cfg: FaultConfig, ctx, tick_s: float):
        n = ctx.n
        self.z_limit = cfg.drift_z
        self.required_s = cfg.drift_s
        self.lam = 1.0 - 0.5 ** (tick_s / cfg.drift_window_s)
        self.d2_floor = self.lam / (2.0 - self.lam)      # the running mean's variance for white residuals
        self.min_count = max(30.0, 3.0 * cfg.drift_window_s / tick_s, cfg.learn_s / tick_s)
        self.settle_ticks = int(3 * cfg.drift_window_s / tick_s)
        self.settle = np.zeros(n, np.int64)      # ticks to wait after a fault before judging drift again
        self.alpha_min = tick_s / max(cfg.learn_s, 2 * tick_s)
        self.held = Held(n, tick_s)
        basis = [nb if nb.size else m for nb, m in zip(ctx.neighbours, ctx.mates)]
        width = max([b.size for b in basis] + [1])
        self.basis = np.tile(np.arange(n)[:, None], (1, width))       # padded index lists, as in fusion.py
        self.basis_on = np.zeros((n, width), bool)
        for i, b in enumerate(basis):
            self.basis[i, :b.size], self.basis_on[i, :b.size] = b, True
        # Running moments of (z, s) for the regression z ≈ a + b·s, the residual and its running mean.
        self.count = np.zeros(n)
        self.m = {k: np.zeros(n) for k in ("z", "s", "zs", "ss", "e2", "d2")}
        self.mean_e = np.zeros(n)        # the running mean of standardised residuals
        self.departure = np.zeros(n)     # D
        self.s_now = np.zeros(n)

    def _neighbour_mean(self, z: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per sensor, the mean of z over its usable basis sensors; and whether it has any."""
        w = self.basis_on & usable[self.basis]
        count = w.sum(axis=1)
        s = np.divide((w * z[self.basis]).sum(axis=1), count, out=np.zeros(z.size), where=count > 0)
        return s, count > 0

    def observe(self, t: Tick) -> tuple[np.ndarray, np.ndarray]:
        normal = t.normal
        z = np.where(t.observed, (t.x - normal.mean) / normal.sd, 0.0)
        usable = t.observed & t.healthy & normal.learned & (np.abs(self.departure) <= self.z_limit / 2)
        s, has = self._neighbour_mean(z, usable)
        self.s_now = s
        m = self.m
        var_s = np.maximum(m["ss"] - m["s"] ** 2, 1e-9)
        b = (m["zs"] - m["z"] * m["s"]) / var_s
        a = m["z"] - b * m["s"]
        e = (z - a - b * s) / np.sqrt(np.maximum(m["e2"], 1e-9))
        # After a fault (of any kind) its normal level and regression are stale: settle first.
        self.settle = np.where(t.healthy | self.drifting(t), np.maximum(self.settle - t.observed, 0),
                               self.settle_ticks)
        seen = t.observed & has & normal.learned & (self.count >= self.min_count) & (self.settle == 0)
        self.mean_e = np.where(seen, (1 - self.lam) * self.mean_e + self.lam * e, self.mean_e)
        self.mean_e[~t.healthy & ~self.drifting(t)] = 0.0   # faulty by another rule: start afresh when it clears
        self.departure = np.where(seen, self.mean_e / np.sqrt(np.maximum(m["d2"], self.d2_floor)), self.departure)
        self._pending = (z, s, e, t.observed & has & normal.learned)
        far = seen & (np.abs(self.departure) > self.z_limit)
        calm = np.ones(t.ctx.n, bool)
        for i in np.flatnonzero(far):
            c = t.ctx.context[i]
            c = c[t.observed[c] & t.healthy[c]]
            calm[i] = c.size > 0 and bool(np.all(np.abs(self.departure[c]) < self.z_limit / 2)) \
                and bool(np.all(np.abs(z[c]) < CALM_LEVEL))
        cond = far & calm
        lasted = self.held.update(cond, seen, t.ts)
        return cond, cond & (lasted >= max(self.required_s, 1e-9))

    def drifting(self, t: Tick) -> np.ndarray:
        """Sensors whose active fault is this drift (their running departure is kept)."""
        return np.array([k == self.KIND for k in t.kinds], bool)

    def learn(self, learn: np.ndarray) -> None:
        """Update the regression on the sensors the tracker judged healthy and unsuspected."""
        z, s, e, ok = self._pending
        learn = learn & ok
        a = np.where(learn, np.maximum(1.0 / (self.count + 1.0), self.alpha_min), 0.0)
        # Clipped, so that an incident the sensor took part in does not widen its normal spread.
        e_raw2 = np.minimum(e * e, CLIP ** 2) * np.maximum(self.m["e2"], 1e-9)   # e was standardised by √e2
        d2 = np.minimum(self.mean_e ** 2, CLIP ** 2 * np.maximum(self.m["d2"], self.d2_floor))
        for key, value in (("z", z), ("s", s), ("zs", z * s), ("ss", s * s), ("e2", e_raw2), ("d2", d2)):
            self.m[key] += a * (np.where(learn, value, 0.0) - self.m[key])
        self.count += learn

    def evidence(self, i: int, t: Tick) -> dict:
        return {"summary": f"departed from its neighbours by {self.departure[i]:+.1f} of its normal spread "
                           f"(limit {self.z_limit:g}) while they stay calm",
                "departure": round(float(self.departure[i]), 3), "value": round(float(t.x[i]), 4)}

    def state(self) -> dict:
        return {"held": self.held.state(), "count": self.count.tolist(), "settle": self.settle.tolist(), "mean_e": self.mean_e.tolist(),
                "departure": self.departure.tolist(), "m": {k: v.tolist() for k, v in self.m.items()}}

    def restore(self, state: dict) -> None:
        self.held.restore(state["held"])
        self.count[:] = state["count"]
        self.settle[:] = state["settle"]
        self.mean_e[:] = state["mean_e"]
        self.departure[:] = state["departure"]
        for k, v in state["m"].items():
            self.m[k][:] = v

