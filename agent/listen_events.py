"""How `stad-agent listen` shows an event — an alert's or a sensor fault's line — and drops a replayed copy of one it
has shown (RecentKeys, bounded).

Apart from listen.py, whose part is following the broker (the connection, the nodes' status), so that each reads in
one sitting.
"""
from __future__ import annotations


def alert_line(a: dict) -> str:
    tops = ", ".join(f"{t['sensor']} {t['contribution']:.0%}" for t in a.get("top_sensors") or [])
    score = "—" if a.get("score") is None else f"{a['score']:.2f}"
    thr = "—" if a.get("threshold") is None else f"{a['threshold']:.2f}"
    replayed = " (replayed)" if a.get("replayed") else ""
    ended = f" ended {a['end']} ({a.get('reason')})" if a.get("event") == "end" else ""
    return (f"{a.get('ts')} {a.get('site')}/{a.get('node')} {str(a.get('event')).upper():6} {a.get('alert_id')} "
            f"#{a.get('seq')} score {score} thr {thr} [{a.get('tier')}] top: {tops}{ended}{replayed}")


def fault_line(f: dict) -> str:
    """A sensor fault as one line: what is wrong with which sensor, and the agent's evidence."""
    summary = (f.get("evidence") or {}).get("summary", "") if isinstance(f.get("evidence"), dict) else ""
    replayed = " (replayed)" if f.get("replayed") else ""
    ended = f" ended {f['end']} ({f.get('reason')})" if f.get("event") == "fault_end" else ""
    return (f"{f.get('ts')} {f.get('site')}/{f.get('node')} {str(f.get('event')).upper():9} {f.get('kind')} "
            f"{f.get('sensor')} ({f.get('group')}) {f.get('fault_id')}: {summary}{ended}{replayed}")


class RecentKeys:
    """The (kind, alert_id or fault_id, seq) keys of the last `size` events shown, to drop replayed copies. Bounded:
    a console left running for months would otherwise keep every event it ever showed. A replay is
    of what an agent's outbox held (at most its max_events), so the bound only needs to exceed what a
    fleet's outboxes can replay at once; an older copy would be shown again, marked (replayed)."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self._keys: dict[tuple, None] = {}       # insertion-ordered: the oldest first

    def add(self, key: tuple) -> bool:
        """True when the key is new (and now remembered), False for a copy already shown."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            del self._keys[next(iter(self._keys))]
        return True

    def __len__(self) -> int:
        return len(self._keys)
