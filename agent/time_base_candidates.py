"""Records held for a move of the time base, and their checkpoint form.

Why a part of its own: the aligner's clock rules (agent/timebase.py) hold records that would move the time base
— a jump ahead, a step back — as candidates until later records confirm or refute them. What a candidate is
(its records in arrival order, the ticks they span, its contradictions, how many of its records the last run
held) is read by every rule, and a kill -9 while one is being confirmed must keep it, as it keeps the open
ticks: `candidates_state` writes them as arrays for the checkpoint, `candidates_restore` reads them back with
key-path errors. Neither judges a record; the rules do.
"""
from __future__ import annotations

import math

import numpy as np

from .checkpoint import array_of
from .records import Record


class Candidate:
    """Records held because they would move the time base: (tick, record) in arrival order."""
    __slots__ = ("records", "lo", "hi", "span", "refuted", "restored")

    def __init__(self, k: int, rec: Record, span: int):
        self.records = [(k, rec)]
        self.lo = self.hi = k
        self.span = span        # how far beyond it a record may come and still continue it
        self.refuted = 0
        self.restored = 0       # its first records held by the last run (a checkpoint), not this one

    def add(self, k: int, rec: Record) -> None:
        self.records.append((k, rec))
        self.lo, self.hi = min(self.lo, k), max(self.hi, k)


def candidates_state(cands: list[Candidate], sensors: list[str]) -> dict:
    """Held candidates as arrays for the checkpoint: their records' sensors' values (one column per sensor of
    `sensors`; NaN: none), label (-1: none), arrival on this host's clock (NaN: not live; the live rules read
    it: a silence, a restart gap); each candidate's span and contradictions."""
    index = {s: i for i, s in enumerate(sensors)}
    recs = [(c, k, rec) for c, cand in enumerate(cands) for k, rec in cand.records]
    values = np.full((len(recs), len(sensors)), np.nan)
    for row, (_, _, rec) in enumerate(recs):
        for sensor, value in rec.values.items():
            if sensor in index and value is not None:
                values[row, index[sensor]] = value
    return {"cand": np.array([c for c, _, _ in recs], np.int64), "k": np.array([k for _, k, _ in recs], np.int64),
            "ts": np.array([rec.ts for _, _, rec in recs], np.float64), "values": values,
            "label": np.array([-1 if rec.label is None else rec.label for _, _, rec in recs], np.int64),
            "received": np.array([np.nan if rec.received is None else rec.received for _, _, rec in recs],
                                 np.float64),
            "held": np.array([rec.held for _, _, rec in recs], bool),     # re-sent because it holds (qa41)
            "span": np.array([c.span for c in cands], np.int64),
            "refuted": np.array([c.refuted for c in cands], np.int64)}


def candidates_restore(state: dict | None, key: str, sensors: list[str]) -> list[Candidate]:
    """`candidates_state` read back from the checkpoint's `aligner.<key>`; a checkpoint written before it held
    none, one written before it kept their arrival has them not live."""
    if state is None:
        return []
    name = f"aligner.{key}"
    cand, ks = (array_of(state[f], f"{name}.{f}", np.int64, 1) for f in ("cand", "k"))
    ts = array_of(state["ts"], f"{name}.ts", np.float64, 1)
    values = array_of(state["values"], f"{name}.values", np.float64, 2, len(sensors))
    labels = array_of(state["label"], f"{name}.label", np.int64, 1)
    received = array_of(state["received"], f"{name}.received", np.float64, 1) if "received" in state \
        else np.full(len(ts), np.nan)
    held = array_of(state["held"], f"{name}.held", bool, 1) if "held" in state else np.zeros(len(ts), bool)
    span, refuted = (array_of(state[f], f"{name}.{f}", np.int64, 1) for f in ("span", "refuted"))
    # the candidates' set checked as sorted Python ints, not np.unique: it imports numpy.ma (~1.3 MiB, perf62)
    if not (len(cand) == len(ks) == len(ts) == len(values) == len(labels) == len(received) == len(held)) \
            or len(span) != len(refuted) or \
            sorted(set(cand.tolist())) != list(range(len(span))) or np.any(np.diff(cand) < 0):
        raise ValueError(f"{name}: records and candidates do not match")
    out: list[Candidate] = []
    for c, k, t, row, label, at, resent in zip(cand, ks, ts, values, labels, received, held):
        rec = Record(ts=float(t), values={s: float(v) for s, v in zip(sensors, row) if not math.isnan(v)},
                     label=None if label < 0 else int(label), origin="checkpoint (held for a time-base move)",
                     received=None if math.isnan(at) else float(at), held=bool(resent))
        if c == len(out):
            out.append(Candidate(int(k), rec, int(span[c])))
            out[-1].refuted = int(refuted[c])
        else:
            out[c].add(int(k), rec)
    return out
