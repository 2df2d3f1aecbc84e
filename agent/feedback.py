"""Operator feedback on alerts: what a verdict does to the detector, bounded and reversible.

An operator (or a tool) publishes `{"alert_id", "verdict", "note"?, "operator"?}` on
`<prefix>/<site>/<node>/feedback` (the MQTT sink subscribes when its `feedback` key is set);
every message is answered on `…/feedback/result` and counted. Verdicts:

- `false_alarm`: the pattern was normal. The detector's threshold is lifted just enough that
  the alert's peak would have stayed under it (plus a margin), at most `max_lift` (0.5: ×1.5) — how far over
  measured on the model that scored each tick, its own threshold (an alert open across a hot swap, a restart
  onto another bundle or a step of the scorer chain: agent/detector.py `_tell_feedback`);
  the lift halves every `half_life_s`, so it fades unless false alarms go on. The threshold is
  one per tier, not per sensor, so the lift is too.
- `confirmed`: a real anomaly. Removes that alert's lift (a false_alarm given by mistake is
  undone), and while the alert is open it is never learned as the new normal (`accept_after_s`).
- `ack`: seen; counted, nothing changes.

Validation is written out here (the gateway has no jsonschema); agent/schemas/feedback.schema.json
describes the same message for senders, and tests check that both agree. The memory (lifts,
confirmations, the alerts it knows) is saved in the state directory after each change, so it
survives a restart.
"""
from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import json_read
from .records import short_repr
from .typed import rng

log = logging.getLogger("stad.feedback")

VERDICTS = ("false_alarm", "confirmed", "ack")
MAX_PAYLOAD_BYTES = 4096
MAX_ID_CHARS = 200
MAX_NOTE_CHARS = 1000
KNOWN_ALERTS = 1000         # alerts feedback can name (the latest)
MAX_LIFTS = 100             # false alarms whose lift is remembered at once
LIFT_MARGIN = 0.05          # a false alarm's peak ends this fraction under the lifted threshold
STATE_FILE = "feedback.json"


@dataclass
class FeedbackConfig:
    max_lift: float = rng(0.0, 10.0, default=0.5, doc="a false_alarm lifts the threshold to at most ×(1 + max_lift)")
    half_life_s: float = rng(60.0, None, default=86400.0, doc="the lift halves in this time, seconds")


def configured(sinks) -> FeedbackConfig | None:
    """The feedback settings of the first sink that takes feedback (the MQTT sink's `feedback`), or None."""
    return next((s.feedback for s in sinks if getattr(s, "feedback", None) is not None), None)


class Refused(ValueError):
    """Why a feedback message is refused, in one line for the answer."""


@dataclass(frozen=True)
class FeedbackRequest:
    """One message as the MQTT sink received it, for the agent's loop to apply and answer."""
    message: dict | None          # parse()'s result; None when it was refused
    error: str | None             # why it was refused
    reply: Callable[[dict], None]  # publishes the answer on …/feedback/result


def parse(payload: bytes) -> dict:
    """The message as {alert_id, verdict, note, operator}, or Refused saying what is wrong."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Refused(f"message too long: {len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
    try:
        msg = json_read.loads(payload.decode("utf-8"))      # (refuses nesting too deep before it recurses)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"not JSON: {str(exc)[:120]}") from None
    if not isinstance(msg, dict):
        raise Refused(f"expected a JSON object, got {type(msg).__name__}")
    unknown = sorted(set(msg) - {"alert_id", "verdict", "note", "operator"})
    if unknown:
        raise Refused(f"unknown key {short_repr(unknown[0])}")
    alert_id = msg.get("alert_id")
    if not isinstance(alert_id, str) or not 1 <= len(alert_id) <= MAX_ID_CHARS:
        raise Refused(f"alert_id: expected a string of 1..{MAX_ID_CHARS} characters, got {short_repr(alert_id)}")
    if msg.get("verdict") not in VERDICTS:
        raise Refused(f"verdict: expected one of {', '.join(VERDICTS)}, got {short_repr(msg.get('verdict'))}")
    for key, limit in (("note", MAX_NOTE_CHARS), ("operator", MAX_ID_CHARS)):
        if key in msg and not (isinstance(msg[key], str) and len(msg[key]) <= limit):
            raise Refused(f"{key}: expected a string of at most {limit} characters, got {short_repr(msg[key])}")
    return {"alert_id": alert_id, "verdict": msg["verdict"], "note": msg.get("note"), "operator": msg.get("operator")}


class FeedbackMemory:
    """What feedback taught the detector. `lift(ts)` multiplies the threshold by (1 + lift)."""

    def __init__(self, cfg: FeedbackConfig, path: Path | None = None):
        self.cfg = cfg
        self.path = path
        self.known: OrderedDict[str, float] = OrderedDict()   # alert_id -> peak / threshold (on its own model)
        self.lifts: OrderedDict[str, tuple[float, float]] = OrderedDict()  # alert_id -> (lift, since ts)
        self.confirmed: OrderedDict[str, None] = OrderedDict()
        self.now = 0.0                  # the latest tick time seen: feedback is applied at it
        self.save_problem: str | None = None    # why the last save failed (said once, until one works)
        self.load_problem: str | None = None    # 'path: why' when the saved memory could not be used at start
        if path is not None:
            self._load()

    def shift_time(self, delta: float) -> None:
        """The time base moved by `delta` s (agent/timebase.py): a lift decays from its verdict's time
        on the new base — on the old, a step back held it at full for as long as the step."""
        self.now += delta
        for alert_id, (lift, since) in self.lifts.items():
            self.lifts[alert_id] = (lift, since + delta)

    # -- what the detector asks ----------------------------------------------------------------

    def lift(self, ts: float) -> float:
        if not self.lifts:
            return 0.0
        decay = math.log(2) / self.cfg.half_life_s
        return min(self.cfg.max_lift, max(lift * math.exp(-decay * max(0.0, ts - since))
                                          for lift, since in self.lifts.values()))

    def seen(self, alert_id: str, ts: float, over: float) -> None:
        """An alert event was raised, `over` its threshold by that factor (peak / threshold, each on the scale of
        the model that scored it: agent/detector.py): feedback may now name it — after a restart too (saved now: an
        operator often judges an alert hours later, when an upgrade or a crash has restarted the agent). The largest
        factor of its events is kept: an alert open across a model change went that far over on the old one."""
        self.now = ts
        self.known[alert_id] = max(over, self.known.get(alert_id, 0.0))
        self.known.move_to_end(alert_id)
        while len(self.known) > KNOWN_ALERTS:
            self.known.popitem(last=False)
        self._save()

    # -- a verdict -----------------------------------------------------------------------------

    def apply(self, alert_id: str, verdict: str) -> str:
        """Apply one verdict; what it did, in words. Raises Refused for an alert it does not know."""
        if alert_id not in self.known:
            raise Refused(f"unknown alert_id {short_repr(alert_id)} (not one of the latest {KNOWN_ALERTS} alerts "
                          "of this node)")
        if verdict == "false_alarm":
            self.confirmed.pop(alert_id, None)
            lift = min(self.cfg.max_lift, max(0.0, self.known[alert_id] * (1 + LIFT_MARGIN) - 1))
            self.lifts[alert_id] = (lift, self.now)
            self.lifts.move_to_end(alert_id)
            while len(self.lifts) > MAX_LIFTS:
                self.lifts.popitem(last=False)
            effect = (f"threshold lifted by {lift:.0%} (at most {self.cfg.max_lift:.0%}), halving every "
                      f"{self.cfg.half_life_s:g} s")
        elif verdict == "confirmed":
            undone = self.lifts.pop(alert_id, None)
            self.confirmed[alert_id] = None
            while len(self.confirmed) > KNOWN_ALERTS:
                self.confirmed.popitem(last=False)
            effect = "never learned as normal" + ("; its false_alarm lift removed" if undone else "")
        else:
            effect = "acknowledged"
        self._save()
        return effect

    # -- state ---------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"known": dict(self.known), "lifts": {k: list(v) for k, v in self.lifts.items()},
                "confirmed": list(self.confirmed), "now": self.now}

    def _save(self) -> None:
        if self.path is None:
            return
        from .checkpoint import atomic_write     # the state files' one way: temporary file, fsync, rename
        try:
            atomic_write(self.path, json.dumps(self.to_dict()).encode())
        except OSError as exc:
            if exc.strerror != self.save_problem:
                log.warning("feedback: cannot save %s (%s); it holds until the agent stops, or until a save "
                            "works", self.path, exc.strerror)
            self.save_problem = exc.strerror
            return
        if self.save_problem is not None:
            log.info("feedback: %s is saved again", self.path)
            self.save_problem = None

    def _load(self) -> None:
        """The memory a previous run saved. A file that cannot be used (cut short, corrupt, of another
        form, a directory) is said and noted in `load_problem` (health `state_reads`), and the agent
        starts without earlier feedback — never a traceback that keeps it from starting, never a
        lift that is not a finite fraction ≥ 0 (a negative one would lower the threshold, a NaN one
        hold it at max_lift)."""
        try:
            d = json_read.loads(self.path.read_text(encoding="utf-8"))
            known = OrderedDict((str(k), _finite(v, f"known.{k}")) for k, v in d["known"].items())
            lifts = OrderedDict((str(k), (_finite(v[0], f"lifts.{k}[0]"), _finite(v[1], f"lifts.{k}[1]")))
                                for k, v in d["lifts"].items())
            confirmed = OrderedDict((str(k), None) for k in d["confirmed"])
            now = _finite(d["now"], "now")
            negative = next((k for k, (lift, _) in lifts.items() if lift < 0), None)
            if negative is not None:
                raise ValueError(f"lifts.{negative}[0]: {lifts[negative][0]} is below 0")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            why = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
            self.load_problem = f"{self.path}: {why}"
            log.error("feedback: %s is unreadable (%s); starting without earlier feedback (the false_alarm lifts "
                      "and confirmations it held are lost)", self.path, why)
            return
        self.known, self.lifts, self.confirmed, self.now = known, lifts, confirmed, now


def _finite(value, key: str) -> float:
    """A number of the saved memory, as a float; ValueError naming its key when it is no finite number
    (json_read.finite_number: float() raised a bare OverflowError on a 400-digit integer, past the reader's
    except, and the agent could not start while the file was there — review37; a string of digits was taken)."""
    if not json_read.finite_number(value):
        raise ValueError(f"{key}: {short_repr(value)} is not a finite number")
    return float(value)


__all__ = ["FeedbackConfig", "FeedbackMemory", "FeedbackRequest", "Refused", "VERDICTS", "configured", "parse"]
