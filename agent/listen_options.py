"""`stad-agent listen`'s options settled before it connects: each one not given taken from the gateway config's mqtt
sink (-c, agent/listen_config.py) or the defaults, the broker built from them, and the options checked — an
argument listen cannot use (a file, a topic level) is exit 2 before any connection.

Apart from listen.py, whose part is following the broker, so that each reads in one sitting.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .broker import BrokerConfig, Secret, TlsConfig, topic_filter_problem, topic_name_problem
from .listen_config import GatewayBroker


#: a gateway's longest reconnect delay when listen has no config of it (-c): the agent's default reconnect_max_s
GATEWAY_RECONNECT_MAX_S = BrokerConfig.__dataclass_fields__["reconnect_max_s"].default


#: the options' values when neither the command line nor a gateway config (-c) gives them
DEFAULTS = {"host": "localhost", "prefix": "stad", "site": "+", "node": "+", "protocol": "5"}


def settle(args, gateway: GatewayBroker | None = None) -> None:
    """Fill the options not given: from the gateway config's mqtt sink (`gateway`, -c), else DEFAULTS; the
    broker settings listen connects with go to `args.broker`."""
    if gateway is not None:
        taken = {"host": gateway.broker.host, "prefix": gateway.prefix, "site": gateway.site, "node": gateway.node,
                 "protocol": gateway.broker.protocol}
    else:
        taken = DEFAULTS
    for key, value in taken.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.broker = broker_from_args(args, None if gateway is None else gateway.broker)
    args.gateway_reconnect_max_s = gateway.broker.reconnect_max_s if gateway is not None else GATEWAY_RECONNECT_MAX_S


#: what listen sets for itself whatever the gateway config says: never the sink's client id (the broker would hand
#: the agent's session to listen and take it back, each from the other: user27's flapping status lines), and a
#: console's short reconnect delays (the gateway's reconnect_max_s is kept apart, `gateway_reconnect_max_s`)
LISTEN_OWN = {"client_id": None, "reconnect_min_s": 0.5, "reconnect_max_s": 10.0}


def broker_from_args(args, config: BrokerConfig | None = None) -> BrokerConfig:
    """The broker listen connects to: the gateway config's sink broker (`config`) when given, every key of it
    carried (a key added to BrokerConfig too: `stable_s` was left behind when each was copied by hand, mqttsrc5)
    but LISTEN_OWN's, under the options given."""
    tls = None
    if config is not None and config.tls is not None:
        tls = replace(config.tls, ca_file=args.ca_file or config.tls.ca_file,
                      cert_file=args.cert_file or config.tls.cert_file, key_file=args.key_file or config.tls.key_file)
    elif args.ca_file or args.cert_file:
        tls = TlsConfig(ca_file=args.ca_file, cert_file=args.cert_file, key_file=args.key_file)
    port = args.port or (config.port if config is not None else 8883 if tls else 1883)
    username = args.username if args.username is not None or config is None else config.username
    if args.password_file:
        password = Secret(file=args.password_file)
    elif config is not None and args.username is None:     # another user's name: not the gateway's password
        password = config.password
    else:
        password = None
    return replace(config if config is not None else BrokerConfig(), host=args.host, port=port,
                   protocol=args.protocol, username=username, password=password, tls=tls, **LISTEN_OWN)


_OPTIONS = {"tls.ca_file": "--ca-file", "tls.cert_file": "--cert-file", "tls.key_file": "--key-file",
            "password.file": "--password-file"}


def file_problems(args) -> list[str]:
    """The files named by the options that cannot be used (missing, unreadable, not PEM, a key that
    is not the certificate's), checked as the agent's check-config checks a broker's: an argument
    listen cannot use (exit 2), not a failure to start with OpenSSL's words."""
    where = f" (from {args.config})" if args.config else ""
    return [f"{_OPTIONS.get(key, key)}{where}: {message}" for key, message in args.broker.preflight(Path)]


def filter_problem(args) -> str | None:
    """Why the subscription built from --prefix/--site/--node is not one the broker takes (None when
    it is). paho would refuse it only on its network thread after the connect, and listen would then
    wait for nothing; site and node are one topic level each (`+` for all)."""
    for name in ("site", "node"):
        value = getattr(args, name)
        if value != "+" and topic_name_problem(value):
            return f"--{name} {value!r}: one topic level, or + for all"
    problem = topic_filter_problem(f"{args.prefix}/{args.site}/{args.node}/alerts")
    return f"--prefix {args.prefix!r}: {problem}" if problem else None
