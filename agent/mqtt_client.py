"""One way to build a paho MQTT client from a BrokerConfig, shared by the sink, the source and `listen`.

- protocol MQTT 5 by default, 3.1.1 when asked;
- TLS with a CA, an optional client certificate and key, and the host name checked;
- username + password, the password read from a Secret (file, environment, systemd credential);
- reconnects with a doubling back-off between reconnect_min_s and reconnect_max_s;
- one log line when the broker cannot be used, saying why (bad credentials, not authorised,
  TLS verification failure, unreachable), repeated only when the reason changes; a connection lost
  is said with what its first reconnect met, in one line (`connection lost (…); reconnecting: broker
  unreachable (Connection refused)`): two lines for one outage told an operator one thing twice
  (review22), and the second's cause — the broker's port closed, or no route — is what tells a broker
  stopped from a network down. Back at the first reconnect, the loss is said alone, then `connected` with how long
  it was away. A loss is said with how long the session held and how it ended (mqttsrc6): the connection closed with
  no word from the broker, the broker gone silent (paho's keep-alive gave up on it: it did not disconnect us, as the
  line said before), or a DISCONNECT with its reason code; a CONNECT unanswered by a broker that answered this
  client before is a broker hung, one it never answered a proxy with no broker behind it; a refusal says its code;
- a connection taken away again and again right after its CONNACK (another client with the same
  client id: the broker gives the session to the newer connection, the two take it from each
  other every reconnect delay) is said once, with that likely cause, not as a lost/connected
  pair of lines every second;
- an exception in a callback is logged with its traceback and the network thread goes on (paho
  would otherwise end the thread: no delivery, no reconnect, no word);
- a connection its owner closes itself (`drop`: the MQTT sink, when the broker acknowledges nothing) is reconnected
  as after a loss and counted in `outages`, said by the owner, not as a loss nor a flap.
"""
from __future__ import annotations

import logging
import os
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from .broker import key_path, mqtt_string_problem
from .records import span

log = logging.getLogger("stad.mqtt")

# CONNACK refusals, MQTT 5 reason codes and 3.1.1 return codes, in words an operator can act on.
_BAD_CREDENTIALS = "bad credentials (wrong user name or password)"
# mosquitto answers a wrong password with "not authorised", not with "bad user name or password".
_NOT_AUTHORISED = "not authorised (wrong user name or password, or the broker does not admit this client)"
_REFUSALS_V5 = {
    0x84: "unsupported protocol version (try protocol 3.1.1)",
    0x85: "client identifier not valid",
    0x86: _BAD_CREDENTIALS,
    0x87: _NOT_AUTHORISED,
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "client banned",
    0x8C: "bad authentication method",
}
_REFUSALS_V311 = {
    1: "unsupported protocol version (try protocol 5)",
    2: "client identifier rejected",
    3: "server unavailable",
    4: _BAD_CREDENTIALS,
    5: _NOT_AUTHORISED,
}
# Refusals that retrying with the same settings will not fix.
_PERMANENT_V5 = {0x86, 0x87, 0x8A, 0x8C}
_PERMANENT_V311 = {4, 5}
# Said after a credential refusal when the client sends a password: the agent reads it once, at start (and
# systemd's LoadCredential= copies it into the service's $CREDENTIALS_DIRECTORY then), so a password changed
# at the broker and in the credential file is only used after a restart; the reconnects go on refused until
# then (user13: a rotated password left a gateway refused, its alerts in the outbox, with nothing saying why).
RESTART_FOR_PASSWORD = ("the password is read once, at start: after changing it, restart the agent "
                        "(systemctl restart stad-agent)")


def read_secret(secret, resolve: Callable[[str], Path] = Path) -> str:
    """The secret's value, without a trailing newline. Raises ValueError when it cannot be found."""
    if secret.env:
        value = os.environ.get(secret.env)
        if value is None:
            raise ValueError(f"secret environment variable {secret.env} is not set")
        return value
    path = resolve(secret.file) if secret.file else _credential_path(secret.credential)
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        from .broker import not_text
        raise ValueError(not_text(Path(path), exc)) from None


def _credential_path(name: str) -> Path:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ValueError(f"credential {name!r}: $CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=)")
    path = Path(directory) / name
    if not path.is_file():
        raise ValueError(f"credential {name!r} not found in {directory}")
    return path


def build_client(broker, client_id: str, resolve: Callable[[str], Path] = Path, **kwargs) -> mqtt.Client:
    """A configured, not yet connected client. Raises ValueError/OSError for unusable settings."""
    protocol = mqtt.MQTTv5 if broker.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs)
    # An exception in a callback would end paho's network thread: the sink would never deliver or
    # reconnect again, with no word. It is logged (with its traceback) and the thread goes on.
    client.suppress_exceptions = True
    client.logger = _CALLBACK_FAILURES
    if broker.tls is not None:
        tls = broker.tls
        client.tls_set(ca_certs=str(resolve(tls.ca_file)) if tls.ca_file else None,
                       certfile=str(resolve(tls.cert_file)) if tls.cert_file else None,
                       keyfile=key_path(tls.key_file, resolve) if tls.key_file else None,
                       cert_reqs=ssl.CERT_NONE if tls.insecure_skip_verify else ssl.CERT_REQUIRED)
        client.tls_insecure_set(tls.insecure_skip_verify)
    if broker.username is not None:
        password = read_secret(broker.password, resolve) if broker.password else None
        if password is not None and (problem := mqtt_string_problem(password, "password")):
            raise ValueError(problem)       # (a credential check-config could not read)
        client.username_pw_set(broker.username, password)
    client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)
    return client


class _CallbackFailures:
    """paho's logger: of its lines, only a callback that raised (logged inside its `except`) becomes an
    error line, with the traceback. A logger, not `on_log`: paho formats every packet's debug line for
    `on_log`, and passes the format and its arguments unformatted to a logger."""

    @staticmethod
    def log(level: int, fmt: str, *args) -> None:
        if level == logging.ERROR and fmt.startswith("Caught exception"):
            log.error("MQTT client: " + fmt, *args, exc_info=sys.exc_info()[0] is not None)


_CALLBACK_FAILURES = _CallbackFailures()


def connect(client: mqtt.Client, broker, session_expiry_s: int | None = None, clean_first: bool = False) -> None:
    """Start connecting in the background (the network loop must run: loop_start()).

    `session_expiry_s`: keep the session (subscriptions, queued QoS 1 messages) on the broker
    for this long after a disconnect (MQTT 5; on 3.1.1 build the client with clean_session=False).
    `clean_first`: this connect starts a new session, the reconnects after it resume it (else all resume)."""
    if session_expiry_s is not None and client.protocol == mqtt.MQTTv5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = int(session_expiry_s)
        client.connect_async(broker.host, broker.port, keepalive=broker.keepalive_s,
                             clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY if clean_first else False, properties=props)
        return
    client.connect_async(broker.host, broker.port, keepalive=broker.keepalive_s)


def publish_properties(client: mqtt.Client, content_type: str | None = None,
                       expiry_s: int | None = None) -> Properties | None:
    """MQTT 5 PUBLISH properties; None on 3.1.1, which has none."""
    if client.protocol != mqtt.MQTTv5:
        return None
    props = Properties(PacketTypes.PUBLISH)
    if content_type:
        props.ContentType = content_type
    if expiry_s:
        props.MessageExpiryInterval = int(expiry_s)
    return props


# paho 2 hands a 3.1.1 CONNACK's return code to on_connect as the MQTT 5 reason code of the same meaning (5, not
# authorised, as 0x87): read back into the 3.1.1 return code by paho's own conversion, so that a 3.1.1 refusal is
# told and judged permanent as a 5 one is (before user18 a refused 3.1.1 login read "refused (Not authorized)",
# not permanent: listen and the sinks retried it for ever).
_V311_OF_V5 = {mqtt.convert_connack_rc_to_reason_code(code).value: int(code)
               for code in mqtt.ConnackCode if code != mqtt.ConnackCode.CONNACK_ACCEPTED}


def _refusal_value(reason_code, protocol: int) -> int:
    """A refusing CONNACK's code as its protocol numbers it (a 3.1.1 return code read back from paho's MQTT 5 one)."""
    value = reason_code.value if hasattr(reason_code, "value") else int(reason_code)
    if protocol != mqtt.MQTTv5 and hasattr(reason_code, "value"):
        value = _V311_OF_V5.get(value, value)
    return value


def refusal_reason(reason_code, protocol: int) -> tuple[str, bool]:
    """Why a CONNACK refused the connection, in words, and whether retrying cannot help."""
    value, v5 = _refusal_value(reason_code, protocol), protocol == mqtt.MQTTv5
    table = _REFUSALS_V5 if v5 else _REFUSALS_V311
    return table.get(value, f"refused ({reason_code})"), value in (_PERMANENT_V5 if v5 else _PERMANENT_V311)


def refusal_code(reason_code, protocol: int) -> str:
    """A refusing CONNACK's code, for the operator to look up: `reason code 0x87` (MQTT 5), `return code 5` (3.1.1)."""
    value = _refusal_value(reason_code, protocol)
    return f"reason code 0x{value:02X}" if protocol == mqtt.MQTTv5 else f"return code {value}"


def suback_reason(reason_code, protocol: int) -> str:
    """Why a SUBACK refused a filter, in words: MQTT 3.1.1 has one failure code, 0x80, and no reason."""
    if protocol == mqtt.MQTTv5:
        return f"{reason_code} (reason code 0x{reason_code.value:02X})"
    return "refused (MQTT 3.1.1 return code 0x80, which gives no reason: most often the broker's ACL)"


# A TLS client at a plain MQTT port: the broker drops the connection inside the handshake.
_NOT_TLS_PORT = "; is this port a TLS listener? (without TLS, remove broker.tls; stad-agent listen: no --ca-file or --cert-file)"
# A plain client at a TLS port: the broker drops the CONNECT it cannot read, without a CONNACK.
_CLOSED_UNANSWERED = "the broker closed the connection without answering the CONNECT"


def failure_reason(exc: BaseException | None, tls: bool = False) -> str:
    """Why a connection attempt failed before any CONNACK: TLS verification, or unreachable."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS verify failure ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure ({exc.reason or exc})" + (_NOT_TLS_PORT if exc.reason == "WRONG_VERSION_NUMBER" else "")
    if exc is None:
        return "broker unreachable"
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    hint = _NOT_TLS_PORT if tls and isinstance(exc, (ConnectionResetError, BrokenPipeError)) else ""
    return f"broker unreachable ({detail}){hint}"


def unanswered_reason(tls: bool, reason_code=None, keepalive_s: float = 0, answered_before: bool = False) -> str:
    """Why a connection ended before the broker's CONNACK, with the likeliest cause. A CONNECT unanswered by a broker
    that answered this client before is a broker hung (SIGSTOP, overloaded, a full disk), not the proxy with no broker
    behind it that one never answered is (mqttsrc6: after a session of hours, the hint sent the operator to look at
    CONNECT handling)."""
    if getattr(reason_code, "value", None) == 0x8D:        # paho gave up waiting (keepalive_s)
        said = f"the broker accepted the connection but did not answer the CONNECT within keepalive_s ({keepalive_s:g} s)"
        if answered_before:
            return (f"{said}, as it did before: is it hung (stopped, overloaded, its disk full)? Its process state "
                    "and log say")
        return f"{said}: it never has (a proxy or load balancer with no broker behind it?)"
    if tls:
        return f"{_CLOSED_UNANSWERED} (is this an MQTT port? mosquitto's log says why)"
    return f"{_CLOSED_UNANSWERED} (is this a TLS port? then set broker.tls; stad-agent listen: add --ca-file; mosquitto's log says why)"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def lost_reason(reason_code, held_s: float, keepalive_s: float) -> str:
    """Why an established connection ended, said with how long it had held. paho says 'Unspecified error' (0x80) when
    the socket closed without a DISCONNECT from the broker — it stopped, crashed or the network dropped —, and 'Keep
    alive timeout' (0x8D) when it gave up on a broker that answered nothing, the connection still open: that broker
    did not disconnect us, it went silent (its host hung, the network to it gone; mqttsrc6: it was said as "the
    broker disconnected us: Keep alive timeout"). A reason the broker sent in its DISCONNECT is quoted as its."""
    into = f"{span(held_s)} into the session"
    if reason_code.value == 0x80:
        return (f"connection lost {into} (the broker went away or the network dropped: the connection closed "
                "without a reason from the broker)")
    if reason_code.value == 0x8D:
        return (f"connection lost {into}: the broker went silent (no answer to the keep-alive within keepalive_s "
                f"({keepalive_s:g} s) of a ping, the connection still open: its host hung, or the network to it "
                "is gone)")
    return f"connection lost {into}: the broker ended it ({reason_code}, reason code 0x{reason_code.value:02X})"


# A connection lost within the broker's `stable_s` (agent/broker.py, 10 s by default) of its CONNACK, QUICK_LOSSES
# times in a row, is a flap.
QUICK_LOSSES = 3
_TAKEN_OVER = ("the connection is closed again right after each connect: is another client connected "
               "with the same client id? The broker gives the session to the newer one, so two take it from "
               "each other ({})")
#: who else takes that id: the agents' sinks make theirs from the node (`clash` of ConnectionReporter)
AGENTS_CLASH = "two agents with the same node.id and node.site, or the same broker.client_id?"


class ConnectionReporter:
    """Logs the first problem of each kind, and the recovery, once — not every retry.

    Install with `reporter.install(client)`; it chains on_connect, on_connect_fail and
    on_disconnect, so set the client's own callbacks on `reporter` (`on_connected`,
    `on_lost`) instead of on the client.
    """

    def __init__(self, broker, what: str, logger: logging.Logger = log, consequence: str = "retrying",
                 clash: str = AGENTS_CLASH):
        self.where = f"{broker.host}:{broker.port}"
        self.clash = clash              # who else may connect with this client id, for a flap's line
        self.tls = broker.tls is not None
        self.stable_s = broker.stable_s   # a connection lost sooner after its CONNACK is a quick loss (a flap's)
        self.keepalive_s = broker.keepalive_s
        self.answered = False           # a CONNACK came for the current attempt
        self.ever_answered = False      # ... for any attempt: a CONNECT unanswered since is a broker hung, not a proxy
        self._attempt = False           # a connection attempt paho has made and not yet ended (on_pre_connect)
        self.what = what                # "alerts", "listen"
        self.log = logger
        self.consequence = consequence  # what happens meanwhile, for the operator
        self.sends_password = broker.password is not None
        self.problem: str | None = None
        self._lost: str | None = None   # a loss not said yet: said with what its first reconnect meets
        self.connected = False
        self.session_present = False    # the last accepting CONNACK's flag: the broker kept the session
        self._up_since = 0.0            # monotonic time of the last CONNACK that accepted
        self._quick = 0                 # connections lost within stable_s of their CONNACK, in a row
        self._dropping = False          # the owner closes this connection itself (`drop`): no loss of the broker's
        # Outages of an established connection, for health: how many, and the last one's times (wall
        # clock), so a health message sent after the broker came back says it was away, and how long.
        self.outages = 0
        self.last_outage: dict | None = None
        # paho's network thread changes the fields above while the owner's thread runs settle():
        # each side's check-and-change is done under this lock, so settle() cannot clear a loss
        # that came in between its check and its reset.
        self._lock = threading.Lock()
        self.on_connected: Callable[[mqtt.Client], None] | None = None
        self.on_lost: Callable[[mqtt.Client], None] | None = None
        # (reason, permanent) -> True when the owner gives up and reports it itself
        self.on_refused: Callable[[str, bool], bool | None] | None = None
        # Called once per failed attempt (refused: True when the broker answered with a refusal) and once
        # per loss of an established connection: the owner counts what the log says once per outage.
        self.on_failure: Callable[[bool], None] | None = None

    def install(self, client: mqtt.Client) -> None:
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect

    def outage_stats(self) -> dict:
        """Outages since start and the last one ({from, to, seconds}; to and seconds null while it lasts)."""
        with self._lock:
            last = None if self.last_outage is None else {k: v for k, v in self.last_outage.items()
                                                           if not k.startswith("_")}
            return {"outages": self.outages, "last_outage": last}

    def _report(self, problem: str) -> None:
        if self._lost is not None:
            lost, self._lost = self._lost, None
            self.problem = problem
            self.log.warning("MQTT %s: cannot use broker %s: %s; reconnecting: %s; %s", self.what, self.where,
                             lost, problem, self.consequence)
        elif problem != self.problem:
            self.problem = problem
            self.log.warning("MQTT %s: cannot use broker %s: %s; %s", self.what, self.where, problem,
                             self.consequence)

    def _say_lost(self) -> None:
        """The loss alone: its first reconnect succeeded, or its owner reports the refusal itself."""
        if self._lost is not None:
            lost, self._lost = self._lost, None
            self.log.warning("MQTT %s: cannot use broker %s: %s; %s", self.what, self.where, lost, self.consequence)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.answered = self.ever_answered = True
        if reason_code.is_failure:
            self._failed(refused=True)
            reason, permanent = refusal_reason(reason_code, client.protocol)
            if self.on_refused and self.on_refused(reason, permanent):
                self._say_lost()
                return          # its owner gives up on it and says so itself (listen)
            hint = (f" ({RESTART_FOR_PASSWORD})" if self.sends_password
                    and reason in (_BAD_CREDENTIALS, _NOT_AUTHORISED) else "")
            self._report(f"connection refused with {refusal_code(reason_code, client.protocol)}: {reason}{hint}")
            return
        back = ""
        with self._lock:
            self._up_since = time.monotonic()
            self._dropping = False      # (a `drop` that met a connection lost already: not this one's)
            self.session_present = bool(getattr(flags, "session_present", False))
            if self.last_outage is not None and self.last_outage["to"] is None:
                now = time.time()
                # (`_from` kept, unrounded: the MQTT source dates the outage it tells by it, Source.peer_since)
                self.last_outage.update(to=_iso(now), seconds=round(now - self.last_outage["_from"], 1))
                back = f" (back {span(now - self.last_outage['_from'])} after the loss noticed at {self.last_outage['from']})"
            if self._quick >= QUICK_LOSSES:     # a flap, said: its end is said by settle(), once it holds
                self.log.debug("MQTT %s: connected to %s", self.what, self.where)
            elif self.problem is not None:
                self._say_lost()
                self.log.info("MQTT %s: connected to %s%s", self.what, self.where, back)
                self.problem = None
            else:
                self.log.debug("MQTT %s: connected to %s", self.what, self.where)
        if self.on_connected:
            self.on_connected(client)
        self.connected = True           # after the callback: whoever sees it can rely on it having run

    def settle(self) -> None:
        """Called now and then by each owner's loop (the MQTT sink's worker, the source's records(),
        listen's run()): after a flap, says the connection is back once it has held for stable_s.
        (A loss or two right after a connect is no flap yet: each reconnect is said as ever.)"""
        with self._lock:
            if not (self._quick >= QUICK_LOSSES and self.connected
                    and time.monotonic() - self._up_since >= self.stable_s):
                return
            self._quick = 0
            self.problem = None
            self.log.info("MQTT %s: connected to %s (held for %g s)", self.what, self.where, self.stable_s)

    def drop(self, client: mqtt.Client) -> None:
        """Close the connection from this side, so that paho reconnects (and its owner sends again what was not
        acknowledged) as after any loss — counted in `outages` (health), but not said, nor taken for a flap: the
        owner says why (the MQTT sink: a broker that acknowledges nothing it is sent). Done by a shutdown of a
        duplicate of the socket's descriptor, safe beside paho's network thread (TLS included), which then meets
        the end of the stream."""
        sock = client.socket()
        if sock is None:
            return
        with self._lock:
            self._dropping = True
        try:
            with socket.socket(fileno=os.dup(sock.fileno())) as raw:
                raw.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):       # closed meanwhile: its loss is paho's to tell
            with self._lock:
                self._dropping = False

    def _on_pre_connect(self, client, userdata) -> None:
        with self._lock:
            self._attempt = True

    def _on_connect_fail(self, client, userdata) -> None:
        # paho calls this from inside its `except OSError` around the connect attempt, so the
        # exception (refused, timed out, TLS verification) is still the one being handled.
        with self._lock:
            self._attempt = False
        self._failed(refused=False)
        self._report(failure_reason(sys.exc_info()[1], self.tls))

    def _failed(self, refused: bool) -> None:
        if self.on_failure is not None:
            self.on_failure(refused)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        now = time.time()       # before `connected` falls: no one who saw it fall dates the loss earlier than this
        with self._lock:
            # paho tells a keep-alive timeout twice (its loop_misc checks the keep-alive, then the ping again): the
            # second, with no connection attempt since, was said as a reconnect the broker did not answer — "did not
            # answer the CONNECT … (a proxy …?)" at once, on a session lost after hours (mqttsrc6)
            attempt, self._attempt = self._attempt, False
            if not attempt:
                return
            was_connected, self.connected = self.connected, False
            answered, self.answered = self.answered, False
            dropped, self._dropping = self._dropping, False
            if not answered and reason_code.value != 0:   # dropped before any CONNACK (not our own disconnect)
                self._failed(refused=False)
                self._report(unanswered_reason(self.tls, reason_code, self.keepalive_s, self.ever_answered))
            if was_connected and reason_code.value != 0:
                self.outages += 1           # (health's count: a connection `drop`ped is one lost too)
                self.last_outage = {"from": _iso(now), "to": None, "seconds": None, "_from": now}
            if was_connected and reason_code.value != 0 and not dropped:    # (`drop`: its owner said why)
                self._failed(refused=False)
                held_s = time.monotonic() - self._up_since
                self._quick = self._quick + 1 if held_s < self.stable_s else 0
                if self._quick >= QUICK_LOSSES:
                    self._lost = None
                    self._report(_TAKEN_OVER.format(self.clash))
                else:           # said with what the first reconnect meets (_report), or alone (_say_lost)
                    self.problem = self._lost = lost_reason(reason_code, held_s, self.keepalive_s)
        if dropped:
            # What paho holds unacknowledged it would send again at every reconnect and keep for good on a broker that
            # acknowledges nothing (64 alert events more at each drop): let go — the owner sends again what it needs
            # (the sink from its outbox). (A paho without drop_out_messages keeps them, as at any loss.)
            drop_out = getattr(client, "drop_out_messages", None)
            if drop_out is not None:
                drop_out()
        if was_connected:
            if self.on_lost:
                self.on_lost(client)
