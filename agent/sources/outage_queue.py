"""Which readings a live source reads after its broker came back are the outage's queue, by a rule that does not
depend on when the outage was noticed (mqttsrc6).

A publisher that keeps its readings while the broker is away (an RTU's store-and-forward), or a broker that held
QoS 1 messages for the agent's session, sends them once the broker is back: stamped in the outage, read after the
agent closed their ticks. They are `Record.backlog`: counted `outage backlog`, never taken for the data's clock
stepping back (user34). Until mqttsrc6 a reading was backlog when stamped inside the outage as the source dated it —
from the broker's last delivery only when paho noticed within 3 × keepalive_s of it (qa53), else from the notice: a
loaded gateway noticed a silent broker later than that, and the queue's first readings read as a step back of the
data (the window refilled, an open alert ended `restart`). Here no notice is asked:

after a reconnect that ended an outage, a stamped reading is the outage's queue when, for each configured sensor it
names,
- it is newer than the newest reading of that sensor read before the outage (no repeat of what was read, no clock
  going back past it) — for a sensor with none, no older than the broker's last delivery before the outage;
- it is older than that sensor's first arrival since the reconnect (it was taken before its publisher could send
  it), and that sensor has not yet sent one stamped at or after that arrival (its first burst: once it reads live
  again, a reading stamped back in the outage is judged as any, a step back or `late`).

However long the broker was silent before anyone noticed, and however late a publisher reconnects after the agent
did, its queue is the outage's. What it costs: a sensor whose clock runs behind this host's reads as draining for
as long as it is behind (its readings of closed ticks are then `outage backlog`, not `late`, for that long).

Once every sensor that sent part of a queue reads live again, the source says how many readings it was, once —
those that came at least a tick after they were taken: a publisher that kept nothing sends its first reading after
the reconnect stamped before its own first arrival too (the rule takes it for the queue, which changes nothing in an
open tick), and "1 reading kept through the outage" a sensor would be a word of what did not happen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..records import Record


@dataclass
class OutageQueue:
    """The first burst after one reconnect (the source's paho thread only)."""
    floor: float                        # the broker's last delivery before the outage (this host's clock)
    newest_before: dict[str, float]     # sensor -> its newest stamp read before the outage
    kept_s: float = 0.0                 # a reading of the queue this much older than its arrival was kept (said)
    first_arrival: dict[str, float] = field(default_factory=dict)   # sensor -> its first arrival since
    live: set[str] = field(default_factory=set)     # sensors read live again (a stamp at or after that arrival)
    queued: set[str] = field(default_factory=set)   # sensors that sent part of the queue not said yet
    count: int = 0                      # readings of the queue not said yet
    oldest: float = float("inf")        # ... their stamps
    newest: float = float("-inf")

    def judge(self, rec: Record, sensors: list[str], arrived: float) -> bool:
        """Whether `rec` (stamped by its sender, naming the configured `sensors`) is part of the queue."""
        if not sensors:
            return False
        queued = True
        for sensor in sensors:
            first = self.first_arrival.setdefault(sensor, arrived)
            if rec.ts >= first:
                self.live.add(sensor)
            if sensor in self.live or not self.newest_before.get(sensor, self.floor) < rec.ts < first:
                queued = False
        if queued and arrived - rec.ts > self.kept_s:
            self.queued.update(sensors)
            self.count += 1
            self.oldest, self.newest = min(self.oldest, rec.ts), max(self.newest, rec.ts)
        return queued

    def drained(self) -> bool:
        """A queue read, and every sensor that sent part of it reads live again."""
        return self.count > 0 and self.queued <= self.live

    def take_said(self) -> tuple[int, float, float]:
        """(readings, oldest stamp, newest stamp) of the queue read since it was last said; counted afresh after."""
        said = (self.count, self.oldest, self.newest)
        self.count, self.oldest, self.newest = 0, float("inf"), float("-inf")
        self.queued = set()
        return said
