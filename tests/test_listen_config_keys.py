"""`listen -c` takes every key of the gateway's mqtt sink broker, by one rule (mqttsrc5).

agent/listen_config.py and listen's `broker_from_args` built listen's BrokerConfig key by key, and `stable_s` (how
long a connection must hold before a flap is over, broker.stable_s) was not among them: a gateway set to a proxy that
drops connections after 15 s had listen judge that proxy by the 10-s default. Now listen's broker is the sink's with
only its paths and credentials resolved, and LISTEN_OWN (the client id, the console's reconnect delays) and the
command line's options set. The config here sets every BrokerConfig and TlsConfig key off its default; a key added
to either later fails the first assertion until it is set here too, then is checked like the others. No broker is
needed: nothing here reaches the network."""
from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

from agent.broker import BrokerConfig, Secret, TlsConfig
from agent.cli import build_parser
from agent.listen_options import LISTEN_OWN, settle
from agent.listen_config import gateway_broker

# keys listen resolves (paths made absolute from the config's directory), besides LISTEN_OWN's
RESOLVED = {"password", "tls"}


def _default(f):
    return f.default if f.default is not MISSING else f.default_factory()


def test_listen_c_carries_every_key_of_the_sinks_broker_but_its_own(tmp_path: Path):
    (tmp_path / "gw.pw").write_text("secret-27\n")
    for name in ("ca.crt", "gw.crt", "gw.key"):
        (tmp_path / name).write_text("x\n")
    config = tmp_path / "agent.yaml"
    config.write_text("""node: {id: gw-5, site: plant5}
sensors:
  - {name: a, group: g}
sources:
  - {type: stdin}
sinks:
  - type: mqtt
    prefix: p5/stad
    broker:
      host: broker.plant5
      port: 28883
      protocol: "3.1.1"
      client_id: gw-5-sink
      username: gw5
      password: {file: gw.pw}
      tls: {ca_file: ca.crt, cert_file: gw.crt, key_file: gw.key, insecure_skip_verify: true}
      keepalive_s: 45
      reconnect_min_s: 2
      reconnect_max_s: 90
      stable_s: 25
""")
    gateway = gateway_broker(str(config))
    sink = gateway.broker
    for cls, value in ((BrokerConfig, sink), (TlsConfig, sink.tls)):
        at_default = [f.name for f in fields(cls) if getattr(value, f.name) == _default(f)]
        assert not at_default, f"set {cls.__name__}'s {at_default} off their default in this test's config"
    args = build_parser("listen").parse_args(["listen", "-c", str(config)])
    settle(args, gateway)
    heard = args.broker
    for f in fields(BrokerConfig):
        if f.name in LISTEN_OWN:
            assert getattr(heard, f.name) == LISTEN_OWN[f.name], f.name
        elif f.name not in RESOLVED:
            assert getattr(heard, f.name) == getattr(sink, f.name), f.name
    assert heard.stable_s == 25 and heard.client_id is None
    assert heard.password == Secret(file=str(tmp_path / "gw.pw"))
    assert heard.tls == TlsConfig(ca_file=str(tmp_path / "ca.crt"), cert_file=str(tmp_path / "gw.crt"),
                                  key_file=str(tmp_path / "gw.key"), insecure_skip_verify=True)
    assert args.gateway_reconnect_max_s == 90       # the gateway's back-off, kept apart (qa40)


def test_options_given_override_the_config():
    args = build_parser("listen").parse_args(["listen", "--host", "h", "--port", "1999", "--protocol", "3.1.1"])
    settle(args)
    assert (args.broker.host, args.broker.port, args.broker.protocol, args.broker.client_id) == \
        ("h", 1999, "3.1.1", None)
    assert args.broker.stable_s == BrokerConfig().stable_s
