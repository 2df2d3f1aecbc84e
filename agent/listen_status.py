"""What `stad-agent listen` says of a node's status: an `offline` held until the broker answers a probe sent after
it, a broker lost or not answering said as the gateways' state unknown, a node's retained `offline` held on
listen's return until its reconnect back-off has passed — the rules and the rounds that made them are listen.py's
docstring's; `_handle` (listen.py) takes each status message and holds an `offline` for its probe.

A mixin of Listener (listen.py), as drift_judge.py and its kin are of faults/drift.py's Drift: apart so that each
reads in one sitting. It uses the listener's `args`, `client`, `reporter`, `flaps`, `status`, `up`, `back_s`, its
probe's state (`_probe`, `_probe_sent`, `_held`, `_unanswered`, `_unanswered_run`), the nodes awaited after a
return (`_awaited`, `_returning`, `_late`), and its `_say`, `_take` and `_handle`.
"""
from __future__ import annotations

import time


class NodeStatus:
    """A mixin of Listener: the nodes' status said (the module's docstring)."""

    def _say_status(self, node: str, state: str, more: str = "") -> None:
        """A node's status changed: said, unless it is flipping again and again (agent/listen_flaps.py)."""
        line = self.flaps.change(node, state, time.monotonic())
        if line is not None:
            self._say(line + more)

    def _status(self, msg) -> tuple[str, str]:
        return "/".join(msg.topic.split("/")[-3:-1]), msg.payload.decode("utf-8", errors="replace")

    def _probe_answered(self, mid: int) -> None:
        """The broker answered after the held `offline`: it is there, and the `offline` was its word on the node."""
        self._unanswered_run = 0
        if mid in self._unanswered:
            node, sent = self._unanswered.pop(mid)
            if node not in self.status:         # nothing heard of the node since its state was said unknown
                self.status[node] = "offline"
                self._say(f"{node} is offline (the broker answered listen's check {time.monotonic() - sent:.0f} s "
                          f"after it was sent: it is there, so the `offline` was its word on {node})")
            return
        if mid != self._probe:
            return
        held, self._probe, self._held = self._held, None, []
        node, state = self._status(held[0])
        if self.status.get(node) != state:      # an unanswered probe's late answer may have said it
            self.status[node] = state
            self._say_status(node, state, self._late.pop(node, ''))
        for msg in held[1:]:
            self._take(msg)

    def _check_probe(self) -> None:
        if self._probe is not None and time.monotonic() - self._probe_sent >= self.args.broker.keepalive_s:
            self._probe_unanswered()

    def _check_returning(self) -> None:
        """A held retained `offline` (`_handle`) whose node has not said `online` within back_s: taken as any
        `offline` (the broker's answer to a probe first), its line saying why it comes late."""
        now = time.monotonic()
        for node, (msg, deadline) in list(self._returning.items()):
            if now >= deadline:
                del self._returning[node]
                self._awaited.discard(node)
                self._late[node] = (f" (the status the broker held when listen came back; it was online when listen "
                                    f"lost the broker, and has not said `online` within {self.back_s:g} s — its "
                                    f"reconnect_max_s — so it is not just reconnecting after the broker's restart)")
                self._take(msg)

    def _probe_unanswered(self) -> None:
        """No answer within keepalive_s (listen.py's docstring): the held `offline` is not shown — the node's state
        is unknown —, what came after it is; a later answer still shows it (`_probe_answered`)."""
        held, mid, self._probe, self._held = self._held, self._probe, None, []
        node, _ = self._status(held[0])
        self.status.pop(node, None)
        self._late.pop(node, None)
        self._unanswered[mid] = (node, self._probe_sent)
        self._unanswered_run += 1
        run = self._unanswered_run
        self._say(f"{node}: state unknown — its `offline` came and the broker {self.reporter.where} has not answered "
                  f"listen's check in {self.args.broker.keepalive_s} s (keepalive_s): it may be hanging or going away "
                  f"(a broker that stops sends every client's Last Will), so the `offline` is not shown; it will be if "
                  f"the broker answers" + (f"; none of listen's last {run} checks on this connection was answered and "
                  f"the connection holds: this broker may not answer an UNSUBSCRIBE at all (then no `offline` can be "
                  f"confirmed: check the node's status topic with another client)" if run > 1 else ""))
        for msg in held[1:]:
            self._take(msg)

    def _lost(self) -> None:
        """listen's connection ended: the gateways' state is unknown until it is back (then each retained status is
        shown again); an `offline` held for its probe came as the broker went away — its Last Will — not shown."""
        if not self.up:
            return
        self.up = False
        held, self._probe, self._held = self._held, None, []
        self._unanswered.clear()        # answers on the connection that ended: none will come
        self._unanswered_run = 0
        unsaid = [self._status(m)[0] for m in held if m.topic.endswith("/status")]
        self._awaited |= {node for node, state in self.status.items() if state == "online"}
        self._returning.clear()         # their retained `offline` comes again at the next return
        self._late.clear()
        known = ", ".join(f"{node} was {state}" for node, state in sorted(self.status.items()))
        self.status.clear()
        self._say(f"lost the broker {self.reporter.where} (listen disconnected): gateway state unknown until listen "
                  f"is back" + (f" ({known})" if known else "") +
                  (f"; the `offline` of {', '.join(sorted(set(unsaid)))} that came as the connection ended is not "
                   f"shown: a broker that stops publishes every client's Last Will" if unsaid else ""))
        for msg in held:
            if not msg.topic.endswith("/status"):
                self._handle(msg)
