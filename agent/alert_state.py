"""An open alert's state and the tracker's checkpointed state (agent/checkpoint.py, the alert journal).

A restart continues an alert open when the agent died or was stopped under the same alert_id and seq
(agent/resume.py), so everything a rule of agent/alerts.py keeps about the open alert lives in one
record, `OpenAlert`, written whole and read back whole: a field a rule adds is checkpointed without a
second list to keep in step. `read_state` checks a state before any of it is taken (ValueError naming
the key: a damaged or hand-edited journal is refused, not half restored), and fills keys absent in
checkpoints written before they existed with their starting values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .alert_residue import read_floors
from .json_read import finite_number


@dataclass
class OpenAlert:
    TIME_FIELDS = ("start", "last_above", "last_sent_ts")    # ClassVar: seconds on the time base (agent/timebase.py)
    alert_id: str
    start: float
    last_above: float
    peak: float
    ticks: int
    seq: int = 0
    last_sent_ts: float = 0.0
    last_sent_peak: float = 0.0
    last_tops: tuple = ()
    below: int = 0
    origin: str | None = None
    explain: dict = field(default_factory=dict)
    last_score: float = 0.0
    gap_s: float | None = None      # set on a restart: said in the next event
    resumed: bool = False           # continued after a restart: the next tick above the threshold reports
    drivers: list = field(default_factory=list)      # sensors that can hold it (see `held`, agent/alert_levels.py)
    level_peak: dict = field(default_factory=dict)   # per driver, the largest level distance seen
    level_top: float = 0.0          # the largest level distance of any sensor during it (release_fraction)
    spent: int = 0                  # ticks in a row every level was under the release bar (release_fraction)
    opened_on: list = field(default_factory=list)    # its drivers when it opened (sensor fault, agent/alert_faults.py)
    fault: dict | None = None       # the fault it is being re-judged for {fault_id, sensor, kind}
    fault_now: bool = False         # nothing was over the threshold without that fault on its own tick: ends next
    fault_calm: int = 0             # ticks in a row nothing was above the threshold with that fault left out
    unheard: int = 0                # ticks under the threshold with a driver silent, since one last counted (no data)
    judge_after_refill: bool = False    # a restart's skipped gap refilled the window: not seen above since (clock27)
    score_peak: dict = field(default_factory=dict)   # per sensor, its largest score (scoring.profile.residue_fraction)
    level_high: dict = field(default_factory=dict)   # per sensor, its largest level distance (the same rule)
    residue_ticks: int = 0          # ticks in a row over the threshold only through residue (agent/alert_residue.py)
    # the largest score since the model scoring it changed (a hot swap, a restart onto another model: None, none
    # since it opened): what the subsided rule judges against; `peak` stays the alert's, reported as peak_score
    model_peak: float | None = None



def open_state(a: OpenAlert | None) -> dict | None:
    """The open alert as its checkpoint holds it (None: none open)."""
    return None if a is None else {**asdict(a), "last_tops": list(a.last_tops)}


def read_state(state: dict) -> dict:
    """The tracker's attributes from its state_dict(); ValueError naming the key when it is not one. Two counts
    are kept under the keys they had before review26 renamed them, so that a checkpoint reads the same in the
    releases before and after: "held" is `held_back` (the `held` level rule is another thing), "residue" is
    `over_without_fault` (the rule texts' residue is what a subsided alert leaves)."""
    a = state["open"]
    opened = None
    if a is not None:
        if not isinstance(a, dict):
            raise ValueError("alerts.open: expected a mapping")
        names = {f.name for f in fields(OpenAlert)}
        unknown = sorted(set(a) - names)
        if unknown:
            raise ValueError(f"alerts.open.{unknown[0]}: unknown key")
        try:
            opened = OpenAlert(**{**a, "last_tops": tuple(a.get("last_tops", ()))})
        except TypeError as exc:
            raise ValueError(f"alerts.open: {exc}") from None
        if not (isinstance(opened.alert_id, str) and opened.alert_id and isinstance(opened.seq, int)
                and opened.seq >= 1):
            raise ValueError("alerts.open: no alert_id or seq")
    counts = {k: _count(k, state[k]) for k in ("above", "cooldown", "suppressed", "raised")}
    counts["held_back"] = _count("held", state["held"])
    counts["calm"] = _count("calm", state.get("calm", 0))      # absent in checkpoints written before it existed
    floor = _floor("floor", state["floor"])
    level_floor = _floor("level_floor", state.get("level_floor", 0.0))     # absent in checkpoints written before it existed
    after_fault = state.get("after_fault")     # absent in checkpoints written before it existed
    if after_fault is not None and not _fault_ref(after_fault):
        raise ValueError("alerts.after_fault: expected a fault {fault_id, sensor, kind}")
    if opened is not None and opened.fault is not None and not _fault_ref(opened.fault):
        raise ValueError("alerts.open.fault: expected a fault {fault_id, sensor, kind}")
    over = _count("residue", state.get("residue", 0))     # absent in checkpoints written before it existed
    residue_floor = read_floors(state.get("residue_floor"))     # absent in checkpoints written before it existed
    tier = state.get("tier")        # absent in states written before it was kept (review34): no step then
    if tier is not None and not (isinstance(tier, str) and tier):
        raise ValueError(f"alerts.tier: {tier!r} is not a tier's name")
    aside = _aside(state.get("aside", [None, 0.0]))     # absent in states written before it was kept (review35)
    return {"open": opened, "floor": floor, "level_floor": level_floor, "after_fault": after_fault,
            "over_without_fault": over, "residue_floor": residue_floor, "tier": tier, "aside": aside, **counts}


def _aside(v) -> tuple[float | None, float]:
    """The other scale's (open alert's peak or null, whole-score floor) — AlertTracker.aside —; ValueError naming
    the key when it is not that pair."""
    if not (isinstance(v, list) and len(v) == 2 and (v[0] is None or finite_number(v[0]))
            and finite_number(v[1]) and v[1] >= 0):
        raise ValueError(f"alerts.aside: {v!r} is not [peak or null, floor] (finite numbers, the floor ≥ 0)")
    return (None if v[0] is None else float(v[0]), float(v[1]))


def _fault_ref(f) -> bool:
    """A fault as the alerts keep it ({fault_id, sensor, kind}, strings): the re-judge asks for its fault_id on every
    tick, so a journal's entry without one stopped the tick (KeyError; review24)."""
    return isinstance(f, dict) and all(isinstance(f.get(k), str) and f[k] for k in ("fault_id", "sensor", "kind"))


def _count(key: str, v) -> int:
    """A count of ticks or alerts; ValueError naming the key when it is none. Why (review33): read
    with int(), a journal's negative count delayed the next alert, a fraction or true passed as one."""
    if not (finite_number(v) and v >= 0 and v == int(v)):
        raise ValueError(f"alerts.{key}: {v!r} is not a count")
    return int(v)


def _floor(key: str, v) -> float:
    """A whole-score or level floor; ValueError naming the key when it is no finite number ≥ 0.
    Why (review33): read with float(), a journal's Infinity kept every alert from opening until a calm tick."""
    if not (finite_number(v) and v >= 0):
        raise ValueError(f"alerts.{key}: {v!r} is not a finite number ≥ 0")
    return float(v)
