"""A node whose status flips between `online` and `offline` again and again, said once, not line by line.

Why: two agents connecting as one client id (the same `sinks[].broker.client_id`, or the same node.site and node.id,
from which the sink's client id is made) take the session from each other at every reconnect, and the broker
publishes the Will (`offline`) of each one it drops: user27's console showed 47 `is online` / `is offline` lines in
23 s, the one line that said why being in the agents' logs. A node whose status changed FLIPS times within the
broker's `stable_s` (the flap the MQTT clients say once: agent/mqtt_client.py) is said once, with that likely cause;
its changes are then held until its status holds `stable_s`, and that status is said once, with the count.
"""
from __future__ import annotations

from collections import deque

FLIPS = 4           # changes of one node's status within stable_s that make it a flap (the connection's is 3 losses)


class StatusFlaps:
    def __init__(self, stable_s: float):
        self.stable_s = stable_s
        self._changes: dict[str, deque] = {}          # node -> monotonic times of its last FLIPS changes
        self._flapping: dict[str, list] = {}          # node -> [its latest state, changes since the flap was said]

    def change(self, node: str, state: str, now: float) -> str | None:
        """The line that says this change of `node`'s status: `node is state`, the flap's line once, or None while
        it flaps (held)."""
        times = self._changes.setdefault(node, deque(maxlen=FLIPS))
        times.append(now)
        if node in self._flapping:
            self._flapping[node][0] = state
            self._flapping[node][1] += 1
            return None
        if len(times) == FLIPS and now - times[0] <= self.stable_s:
            self._flapping[node] = [state, 0]
            return (f"{node} is {state} — its status changed {FLIPS} times in {now - times[0]:.0f} s (online, "
                    f"offline, …): most likely two agents connect as one client id (the same sinks[].broker."
                    f"client_id, or the same node.site and node.id, its default), each dropped by the broker for the "
                    f"other, which publishes its Last Will (`offline`) every time; give each agent its own node.id "
                    f"(the agents' logs say it too). Its changes are not shown until one holds {self.stable_s:g} s "
                    f"(broker.stable_s)")
        return f"{node} is {state}"

    def settled(self, now: float) -> list[str]:
        """The flapping nodes whose status has held stable_s: each said once, with how many changes were held."""
        out = []
        for node, (state, held) in list(self._flapping.items()):
            if now - self._changes[node][-1] >= self.stable_s:
                del self._flapping[node]
                out.append(f"{node} is {state} (held {self.stable_s:g} s; {held} change{'' if held == 1 else 's'} of its "
                           f"status not shown since it began to flip)")
        return out


__all__ = ["StatusFlaps", "FLIPS"]
