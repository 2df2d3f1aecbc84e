"""`stad-agent listen`: follow the alerts and sensor faults of one node, or of all nodes, from the broker.

Prints each alert event and each sensor-fault event as a readable line (or its raw JSON with
--json), shows node status changes (online/offline), and drops replayed copies already seen, keyed
by the topic (its site and node) and (alert_id, seq) / (fault_id, seq) (the last 100,000 keys: bounded, see
RecentKeys): an id is unique for one gateway, and two sites may each run a node `gw-01` (user28). Faults are
followed because an operator who follows the README's `listen` otherwise never hears of a stuck
or dead sensor: the agent publishes them on `…/faults`, not `…/alerts` (user6's walk).
With `-c agent.yaml` the broker, prefix, site, node and credentials come from that gateway config's mqtt sink
(agent/listen_config.py), each option given overriding its value: the config already holds them (user13).
A node's `offline` is shown once the broker has answered a probe sent after it (an UNSUBSCRIBE of a filter
listen never took): a broker that stops (Mosquitto on SIGTERM, `systemctl restart mosquitto`) publishes every
client's Last Will as it goes, so the gateway's `offline` arrived as listen's own connection ended, and listen
showed the gateway offline when the broker was what went away (user14; user16). A broker gone before it answers:
one line says listen lost it and the gateways' state is unknown, that `offline` is not shown, and each node's
status is shown again from the retained one once listen is back — but the retained `offline` of a node listen knew
online, which Mosquitto keeps from the Last Will it published as it stopped (2.0.11: its database after a SIGTERM restart
holds it), is held until that node says `online` or its reconnect back-off has passed (`reconnect_max_s`: the gateway
config's with -c, else the agent's default): a listen back before the gateway showed it `offline`, then `online`, at
every broker restart it won the race (qa40). The hold is said at once (`… state unknown — the broker came back holding
its offline …`): a console silent for up to reconnect_max_s read the gateway as still online (qa41). A broker that does not answer within the
connection's keepalive_s (one that hangs — stopped mid-answer —, or one that does not answer an UNSUBSCRIBE; a
live broker answers in milliseconds, and keepalive_s is how long paho waits on a PINGREQ's answer before it drops
the connection): one line says the node's state is unknown, the `offline` not shown, and what came after it is
shown; an answer that comes later still shows the `offline`, said late, unless the node's state was heard since.
A broker that refuses listen's login when it reconnects (its users changed while listen ran) ends listen, exit 1,
after the line that says the broker was lost (user18).
Exit codes: 0 done (input interrupted, --count reached, or --timeout without --count once the
broker was reached); 1 when --count was not reached before --timeout, the broker was never reached
within --timeout (`listen --timeout 5` is a connectivity check), the broker refused the credentials, or
it refused the subscription to the alerts (see _on_subscribe); 2 for arguments listen cannot use (a port outside 1–65535, a count or timeout not above 0, a
prefix, site or node that makes no subscription a broker takes, a -c config that cannot be read or has no mqtt sink).
This module holds the command (its arguments, the connection, the main loop, each message taken); apart, so that each
reads in one sitting (review44): listen_options.py (the options settled and checked), listen_config.py (-c),
listen_events.py (an event's line, copies dropped), listen_status.py (a node's status said), listen_flaps.py.
"""
from __future__ import annotations

import json
import logging
import queue
import signal
import sys
import threading
import time

from . import json_read
from .alerts import iso
from .arg_types import positive
from .listen_config import gateway_broker
from .listen_events import RecentKeys, alert_line, fault_line
from .listen_flaps import StatusFlaps
from .listen_options import GATEWAY_RECONNECT_MAX_S, file_problems, filter_problem, settle
from .listen_status import NodeStatus
from .mqtt_client import AGENTS_CLASH, ConnectionReporter, build_client, connect, suback_reason
from .typed import ConfigError

log = logging.getLogger("stad.listen")
SESSION_EXPIRY_S = 86400      # --session: how long the broker keeps it while listen is away
#: inbox markers put by paho's network thread, behind the messages that came before them
_UP, _LOST = object(), object()


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(port)
    return port


_port.__name__ = "port (1-65535)"                  # argparse's message: "invalid port (1-65535) value: '0'"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("listen", help="print alerts and node status from the MQTT broker",
                              description="Follow <prefix>/<site>/<node>/alerts, …/faults (sensor faults: send a "
                                          "technician) and …/status on a broker; replayed duplicates are "
                                          "dropped by (alert_id, seq) and (fault_id, seq).",
                              epilog="Exit status: 0 after --count alert events, after --timeout without "
                                     "--count once the broker was reached, or on Ctrl-C; 1 when --count was not "
                                     "reached within --timeout, the broker was never reached within --timeout, "
                                     "or the broker refused the login or the subscription to the alerts; 2 for an argument it cannot use "
                                     "(a file named is missing or unusable).")
    p.add_argument("-c", "--config", metavar="AGENT.yaml",
                   help="take the broker (host, port, protocol, TLS files, user name and password), the prefix, the "
                        "site and the node from this gateway config's mqtt sink; the options below override them")
    p.add_argument("--host", default=None, help="the broker (default: localhost)")
    p.add_argument("--port", type=_port, default=None, help="default 1883, or 8883 with TLS (--ca-file or --cert-file)")
    p.add_argument("--prefix", default=None, help="the agents' sinks[].prefix (default: stad)")
    p.add_argument("--site", default=None, help="site to follow (default: all, + ; with -c the config's node.site)")
    p.add_argument("--node", default=None, help="node to follow (default: all, + ; with -c the config's node.id)")
    p.add_argument("--username", help="user name at the broker (default: none; given with -c, the config's "
                                      "password is not sent: give --password-file)")
    p.add_argument("--password-file", help="a regular file holding the password (with --username)")
    p.add_argument("--ca-file", help="CA certificate: turns TLS on")
    p.add_argument("--cert-file", help="client certificate (mutual TLS)")
    p.add_argument("--key-file", help="client key (mutual TLS)")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default=None, help="MQTT version (default: 5)")
    p.add_argument("--json", action="store_true", help="print each alert and fault event as one JSON line")
    p.add_argument("--out", metavar="FILE.jsonl", help="also append each alert and fault event to this file "
                   "(told apart by `event`, as in the agent's jsonl sink)")
    p.add_argument("--count", type=positive(int), default=None, help="exit after this many alert events")
    p.add_argument("--timeout", type=positive(float), default=None, help="stop after this many seconds (exit 1 if --count was given and not reached, or the broker was "
                        "never reached)")
    p.add_argument("--session", metavar="CLIENT_ID",
                   help="a persistent session under this client id: the broker keeps the subscriptions and "
                        "queues alert events for a day while listen is away or the broker restarts")
    p.set_defaults(func=run)


class Listener(NodeStatus):
    def __init__(self, args):
        self.args = args
        self.base = f"{args.prefix}/{args.site}/{args.node}"
        self.inbox: queue.Queue = queue.Queue()
        self.seen = RecentKeys()
        self.status: dict[str, str] = {}
        self.alerts = 0
        self.heard_status = False       # any …/status message came (a retained one at the subscribe included)
        self.refused: str | None = None         # why listen gives up: the login or the alerts' subscription
        self._asked: dict[int, list[str]] = {}   # SUBSCRIBE message id -> its filters, for the SUBACK
        self._said: set[tuple[str, str]] = set()  # (filter, reason) refusals already warned of
        self.reached = False            # connected at least once (a --timeout without it is a failure)
        self.up = False                 # the main thread's view: connected, not yet said lost
        # An `offline` is held until the broker answers the probe sent after it (`_probe`: its UNSUBSCRIBE id),
        # with every message that came after it (their order kept); the connection lost first: not shown.
        self._probe: int | None = None
        self._probe_sent = 0.0          # monotonic time the pending probe was sent
        self._held: list = []
        # probes unanswered within keepalive_s (`_probe_unanswered`): their id -> (node, monotonic time sent)
        self._unanswered: dict[int, tuple[str, float]] = {}
        self._unanswered_run = 0        # checks unanswered in a row on this connection (none answered between)
        # Nodes listen knew online when it lost the broker: their retained `offline` on its return (the Last Will the
        # broker kept as it stopped) is held in `_returning` (node -> (message, monotonic deadline)) for `back_s`.
        self._awaited: set[str] = set()
        self._returning: dict[str, tuple] = {}
        self._late: dict[str, str] = {}         # node -> what its `offline` line adds, once its wait ran out
        self.back_s = float(getattr(args, "gateway_reconnect_max_s", None) or GATEWAY_RECONNECT_MAX_S)
        broker = args.broker
        self.flaps = StatusFlaps(broker.stable_s)      # a node's status flipping again and again: said once
        if args.session:
            # 3.1.1 keeps a session with clean_session=False; MQTT 5 with a session expiry (connect()).
            extra = {"clean_session": False} if broker.protocol == "3.1.1" else {}
            self.client = build_client(broker, args.session, **extra)
        else:
            self.client = build_client(broker, "")
        # listen's own client id is the broker's choice (none given), unique; only `--session ID` can clash: with
        # another listen given the same one (the agents' ids are made from their node: a clash there is theirs)
        self.reporter = ConnectionReporter(broker, "listen", log, clash=(
            f"another `stad-agent listen --session {args.session}`? give each console its own"
            if args.session else AGENTS_CLASH))
        self.reporter.on_connected = self._subscribe
        self.reporter.on_refused = self._on_refused
        self.reporter.on_lost = lambda client: self.inbox.put(_LOST)
        self.reporter.install(self.client)
        self.client.on_message = lambda client, userdata, msg: self.inbox.put(msg)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = lambda client, userdata, mid, codes, properties: self.inbox.put(("probe", mid))
        connect(self.client, broker, session_expiry_s=SESSION_EXPIRY_S if args.session else None)
        self.out = open(args.out, "a", encoding="utf-8") if args.out else None

    def _subscribe(self, client) -> None:
        self.reached = True
        self.inbox.put(_UP)
        filters = [f"{self.base}/{leaf}" for leaf in ("alerts", "faults", "status")]
        self._asked[client.subscribe([(f, 1) for f in filters])[1]] = filters
        log.info("listen: following %s/alerts, %s/faults and %s/status on %s", self.base, self.base, self.base,
                 self.reporter.where)

    def _on_refused(self, reason: str, permanent: bool) -> bool:
        if permanent:           # retrying will not fix it: give up at once (one message, below)
            if self.reached:    # it took this login before: something changed at the broker while listen ran
                self.refused = (f"the broker refused listen's login when it reconnected: {reason}; it had taken it "
                                f"before, so the broker's users or settings changed while listen ran (a password "
                                f"file added?)")
            else:
                self.refused = f"the broker refused the connection: {reason}"
            self.inbox.put(None)
        return permanent

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        """The SUBACK (qa28). A broker's ACL can refuse a filter (Mosquitto's dynamic security: 0x87, 3.1.1:
        0x80); unlooked at, listen sat silent for ever. The alerts are what listen is for (--count counts
        them): refused, it gives up at once, exit 1, naming filter and reason — a script's `listen --count 1`
        must not wait out its timeout for events it can never get, nor a person watch a quiet screen
        believing the plant is. A refused faults or status filter is warned of (once per reason) and the
        granted ones followed: the alerts still come. (Mosquitto's acl_file grants every filter and then
        delivers nothing: no client can see that.)"""
        who = f"user {self.args.username!r}" if self.args.username else "an anonymous client"
        for topic, code in zip(self._asked.pop(mid, []), reason_codes):
            if not code.is_failure:
                continue
            why = suback_reason(code, client.protocol)
            if topic.endswith("/alerts"):
                self.refused = (f"the broker refuses the subscription to {topic}: {why}; no alert can reach "
                                f"listen — does the broker's ACL let {who} read it?")
                self.inbox.put(None)
            elif (topic, why) not in self._said:
                self._said.add((topic, why))
                log.warning("listen: the broker refuses the subscription to %s: %s; %s are not shown — does the "
                            "broker's ACL let %s read it? Alerts are followed still", topic, why,
                            "sensor faults" if topic.endswith("/faults") else "node status changes (offline)", who)

    def run(self) -> int:
        deadline = time.monotonic() + self.args.timeout if self.args.timeout else None
        try:
            # Inside the try: the network thread can connect and log "following" before
            # loop_start() returns, and a signal then must still end listen cleanly.
            self.client.loop_start()
            while self.refused is None:
                self.reporter.settle()          # the end of a flap, said once it holds
                self._check_probe()
                self._check_returning()
                for line in self.flaps.settled(time.monotonic()):
                    self._say(line)
                if self.args.count is not None and self.alerts >= self.args.count:
                    return 0
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return self._timed_out()
                try:
                    msg = self.inbox.get(timeout=min(left, 0.5) if left is not None else 0.5)
                except queue.Empty:
                    continue
                if msg is not None:
                    self._take(msg)
            self._drain()
            log.error("listen: giving up, %s", self.refused)
            return 1
        except KeyboardInterrupt:
            return 0
        except BrokenPipeError:         # `listen | head -1`: the reader took what it wanted (qa37: a traceback)
            from .cli import reader_gone
            reader_gone()
            return 0
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            if self.out:
                self.out.close()

    def _drain(self) -> None:
        """What paho's thread put before the refusal (the loss of the connection among it), taken in order: the
        `lost the broker` line comes before the refusal's, and a held `offline` is not left unsaid."""
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._take(item)

    def _timed_out(self) -> int:
        if not self.reached:
            log.error("listen: timed out after %gs without reaching the broker at %s (the lines above say why)",
                      self.args.timeout, self.reporter.where)
            return 1
        if not self.heard_status:
            self._no_status()
        if self.args.count is None:
            return 0
        log.error("listen: timed out after %gs with %d of %d alert events", self.args.timeout, self.alerts,
                  self.args.count)
        return 1

    def _no_status(self) -> None:
        """No status in all of --timeout: a gateway that ever connected leaves its retained `online`/`offline`, so
        either none has, or this user may not read it — and a broker's ACL that denies a read says nothing
        (Mosquitto's acl_file grants the SUBSCRIBE and delivers nothing): silence was read as "no alerts" (user24:
        `listen -c` with the gateway's own user, whose ACL lets it write its topics only)."""
        user = self.args.broker.username
        log.warning("listen: no status of %s came in %gs: no gateway there has connected to this broker yet, or "
                    "%s may not read %s/status — a broker's ACL that denies a read is silent (Mosquitto grants the "
                    "subscription and delivers nothing), so no alert shown here does not mean none was sent; "
                    "follow the alerts as a user the ACL lets read them", self.base, self.args.timeout,
                    f"user {user!r}" if user else "this anonymous client", self.base)

    def _take(self, item) -> None:
        """One inbox item, in the order paho's network thread put them: a message, or a marker."""
        if item is _UP:
            self.up = True
        elif item is _LOST:
            self._lost()
        elif isinstance(item, tuple):
            self._probe_answered(item[1])
        elif self._probe is not None:
            self._held.append(item)
        else:
            self._handle(item)

    def _say(self, line: str) -> None:
        """A status line: stdout, or stderr with --json (stdout then holds events alone)."""
        print(f"{iso(time.time())} {line}", file=sys.stderr if self.args.json else sys.stdout, flush=True)

    def _handle(self, msg) -> None:
        if msg.topic.endswith("/status"):
            self.heard_status = True
            node, state = self._status(msg)
            if node in self._awaited:
                if state == "offline" and msg.retain:   # the broker's stored status, maybe the Will of its own stop
                    if node not in self._returning:
                        self._returning[node] = (msg, time.monotonic() + self.back_s)
                        # said at once: a console that shows nothing for up to reconnect_max_s reads as "still
                        # online" (qa41; the held `offline` itself came up to that late for a gateway really gone)
                        self._say(f"{node}: state unknown — the broker came back holding its `offline` (the Last Will "
                                  f"it published as it stopped); shown if {node} has not said `online` within "
                                  f"{self.back_s:g} s (its reconnect_max_s)")
                    return
                self._awaited.discard(node)             # the node's own word since: shown as it comes
                self._returning.pop(node, None)
            if self.status.get(node) == state:
                return
            if state == "offline":      # shown once the broker answers after it (the module's docstring)
                self._probe = self.client.unsubscribe(f"{self.base}/status/listen-probe")[1]
                self._probe_sent = time.monotonic()
                self._held = [msg]
                return
            self.status[node] = state
            self._say_status(node, state)
            return
        fault = msg.topic.endswith("/faults")
        what, id_key, line = ("fault", "fault_id", fault_line) if fault else ("alert", "alert_id", alert_line)
        try:
            # Anyone who may publish on these topics can send anything: what cannot be shown is
            # reported and skipped, never a traceback that ends listen.
            event = json_read.loads(msg.payload)      # (nesting too deep refused before it recurses)
            key = (event[id_key], event["seq"])
            if not isinstance(key[0], str) or isinstance(key[1], bool) or not isinstance(key[1], int):
                raise TypeError(f"{id_key} is not a string or seq not an integer")
            raw = json.dumps(event, separators=(",", ":"))
            shown = raw if self.args.json else line(event)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OverflowError) as exc:
            log.warning("listen: not %s event on %s (%s: %s): %r", "a fault" if fault else "an alert", msg.topic,
                        type(exc).__name__, str(exc)[:80], msg.payload[:80])
            return
        if not self.seen.add((what, msg.topic, *key)):     # (the topic: ids are unique per gateway, not per fleet)
            return
        if not fault:
            self.alerts += 1        # --count counts alert events
        print(shown, flush=True)
        if self.out:
            self.out.write(raw + "\n")
            self.out.flush()


def run(args) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    gateway = None
    if args.config:
        try:
            gateway = gateway_broker(args.config, own_password=bool(args.username is not None or args.password_file),
                                     own_key=bool(args.key_file))
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("listen: %s: %s", exc.source, problem)
            return 2
    settle(args, gateway)
    if gateway is not None:
        b = args.broker
        log.info("listen: from %s and the options given: %s:%d%s%s, prefix %s, site %s, node %s", gateway.where,
                 b.host, b.port, ", TLS" if b.tls else "", f", user {b.username}" if b.username else "", args.prefix,
                 args.site, args.node)
    problems = [problem] if (problem := filter_problem(args)) else file_problems(args)
    if problems:
        for problem in problems:
            log.error("listen: %s", problem)
        return 2
    try:
        listener = Listener(args)
    except (ValueError, OSError) as exc:
        log.error("listen: cannot start: %s", exc)
        return 1
    _stop_on_signals()
    return listener.run()


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM end `listen` cleanly (exit 0) however it was started: a process started
    in the background by a non-interactive shell inherits SIGINT as ignored, and Python then
    installs no KeyboardInterrupt handler of its own; systemd and `kill` send SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
