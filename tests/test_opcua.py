"""The OPC UA source against a real asyncua server process on a free loopback port: values
arrive as sensors, the server goes away (SIGKILL) and comes back, bad nodes and non-numbers are
counted; config keys are checked with their key paths."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config import from_dict
from agent.records import Rejects
from agent.typed import ConfigError
from conftest import OpcUaServer as Server, wait_until
from mqtt_broker import free_port
from opcua_agent import Reader, config, server  # noqa: F401 — server: a pytest fixture, the process's shared server, reset for each test

pytest.importorskip("asyncua", reason="the opcua extra is not installed")
from agent.sources.opcua import OpcUaSecurity, OpcUaSource, keepalive_s  # noqa: E402
from opcua_server import CONSTANT_BAD, CONSTANTS, MAX_NODES_PER_READ  # noqa: E402 — asyncua's server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def make_certificates(folder: Path) -> Path:
    """Self-signed server and client application certificates (asyncua's generator, real RSA keys),
    and a second client certificate the server does not know."""
    import asyncio

    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    async def make() -> None:
        for name, uri, use in (("server", "urn:stad-test:server", ExtendedKeyUsageOID.SERVER_AUTH),
                               ("client", "urn:stad-edge:test-agent", ExtendedKeyUsageOID.CLIENT_AUTH),
                               ("stranger", "urn:stad-edge:stranger", ExtendedKeyUsageOID.CLIENT_AUTH)):
            await setup_self_signed_certificate(folder / f"{name}.key.pem", folder / f"{name}.der", uri, "localhost",
                                                [use], {"commonName": name})
    asyncio.run(make())
    return folder


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory):
    """The module's secured server: its tests only connect to it (or are refused)."""
    s = Server(free_port(), make_certificates(tmp_path_factory.mktemp("certs")))
    s.start()
    yield s
    s.kill()


def test_values_arrive_and_survive_the_server_going_away_and_back(server):
    rejects = Rejects()
    src = OpcUaSource(config(server.port), ["pressure", "temp_motor"], rejects)
    reader = Reader(src)
    try:
        assert wait_until(lambda: reader.sensors() == {"pressure", "temp_motor"}, 60), rejects.as_dict()
        first = reader.records[0]
        assert 15 <= first.values.get("pressure", first.values.get("temp_motor", 0)) <= 32
        assert first.origin.startswith("opcua opc.tcp://127.0.0.1:")

        server.kill()
        assert wait_until(lambda: rejects.counts["opcua unreachable"] >= 2, 60)
        assert not src.connected.is_set()
        before = len(reader.records)
        server.start()
        assert wait_until(lambda: reader.sensors(since=before) == {"pressure", "temp_motor"}, 60), rejects.as_dict()
    finally:
        reader.close()


def test_unknown_nodes_and_non_numbers_are_counted(server):
    rejects = Rejects()
    src = OpcUaSource(config(server.port, pressure="ns=2;s=Skid1.pressure", flow="ns=2;s=Skid1.nope",
                             label="ns=2;s=Skid1.label"), ["pressure", "flow", "label"], rejects)
    reader = Reader(src)
    try:
        assert wait_until(lambda: "pressure" in reader.sensors() and rejects.counts["opcua non-numeric"] >= 1
                          and rejects.counts["opcua bad node"] >= 1, 60), rejects.as_dict()
        assert reader.sensors() == {"pressure"}
    finally:
        reader.close()


def test_a_secured_server_admits_the_agent_by_its_certificate_and_browse_paths_resolve(secure_server):
    certs = secure_server.certs
    rejects = Rejects()
    security = OpcUaSecurity(certificate=str(certs / "client.der"), private_key=str(certs / "client.key.pem"),
                             server_certificate=str(certs / "server.der"))
    src = OpcUaSource(config(secure_server.port, security, pressure="/0:Objects/2:Skid1/2:pressure",
                             temp_motor="ns=2;s=Skid1.temp_motor", flow="/0:Objects/2:Skid1/2:nope"),
                      ["pressure", "temp_motor", "flow"], rejects)
    reader = Reader(src)
    try:
        assert wait_until(lambda: reader.sensors() == {"pressure", "temp_motor"}
                          and rejects.counts["opcua bad node"] >= 1, 60), rejects.as_dict()
        assert rejects.counts["opcua unreachable"] == 0
    finally:
        reader.close()


def test_a_secured_server_refuses_a_certificate_it_does_not_know_and_a_client_without_one(secure_server):
    certs = secure_server.certs
    stranger = OpcUaSecurity(certificate=str(certs / "stranger.der"), private_key=str(certs / "stranger.key.pem"))
    for security in (stranger, None):
        rejects = Rejects()
        reader = Reader(OpcUaSource(config(secure_server.port, security), ["pressure", "temp_motor"], rejects))
        try:
            assert wait_until(lambda: rejects.counts["opcua unreachable"] >= 2, 60), rejects.as_dict()
            assert reader.records == []
        finally:
            reader.close()


def test_an_unreachable_server_is_retried_and_counted():
    rejects = Rejects()
    reader = Reader(OpcUaSource(config(free_port()), ["pressure", "temp_motor"], rejects))
    try:
        assert wait_until(lambda: rejects.counts["opcua unreachable"] >= 2, 60)
    finally:
        reader.close()


def test_opcua_keys_are_checked_with_key_paths():
    base = {"sensors": ["pressure"], "sources": [{"type": "opcua", "url": "opc.tcp://plc:4840",
                                                   "nodes": {"pressure": "ns=2;s=Skid1.pressure"}}]}
    assert from_dict(base).sources[0].nodes == {"pressure": "ns=2;s=Skid1.pressure"}
    bad = {"sensors": ["pressure"], "sources": [{"type": "opcua", "url": "http://plc", "nodes": {
        "pressure": "Skid1.pressure", "flwo": "ns=2;i=7"}, "username": "op", "sampling_ms": 5}]}
    with pytest.raises(ConfigError) as exc:
        from_dict(bad)
    paths = sorted(p.split(":")[0] for p in exc.value.problems)
    assert paths == ["sources[0].nodes.flwo", "sources[0].nodes.pressure", "sources[0].password",
                     "sources[0].sampling_ms", "sources[0].url"], exc.value.problems
    browse = {"sensors": ["pressure"], "sources": [{"type": "opcua", "nodes": {
        "pressure": "/0:Objects/2:Skid1/2:Pressure"}, "security": {"policy": "Basic256Sha256"}}]}
    assert from_dict({**browse, "sources": [{**browse["sources"][0], "security": None}]}).sources[0].nodes
    browse["sources"][0]["nodes"]["pressure"] = "/Objects/Skid1"
    browse["sources"][0]["security"].update(mode="Encrypt", pin=1)
    with pytest.raises(ConfigError) as exc:
        from_dict(browse)
    paths = sorted(p.split(":")[0] for p in exc.value.problems)
    assert paths == ["sources[0].nodes.pressure", "sources[0].security.certificate", "sources[0].security.mode",
                     "sources[0].security.pin", "sources[0].security.private_key"], exc.value.problems


def test_check_config_finds_missing_certificate_files(tmp_path):
    (tmp_path / "agent.yaml").write_text(
        "sensors: [pressure]\nsources:\n  - type: opcua\n    nodes: {pressure: 'ns=2;i=7'}\n"
        "    security: {certificate: certs/agent.der, private_key: certs/agent.key.pem}\n")
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2
    assert "sources[0].security.certificate" in res.stderr and "sources[0].security.private_key" in res.stderr


def test_an_asyncua_without_the_stale_subscription_watchdog_is_refused_by_check_config(tmp_path):
    # asyncua 1.x has no stale-subscription watchdog: a subscription the server deletes without a word
    # would leave the source connected and silent for good (qa10). The extra asks for 2.0; an older
    # install (its distribution metadata first on the path, as pip leaves it) is refused in one line,
    # as a missing extra is. On the old code check-config said ok.
    meta = tmp_path / "site" / "asyncua-1.1.8.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: asyncua\nVersion: 1.1.8\n")
    (tmp_path / "agent.yaml").write_text(
        "sensors: [pressure]\nsources:\n  - type: opcua\n    nodes: {pressure: 'ns=2;i=7'}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "sources[0].type" in res.stderr and "asyncua 1.1.8 is installed" in res.stderr and "2.0" in res.stderr
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr       # the asyncua installed here (2.x) passes


def test_the_industrial_opcua_config_checks():
    res = subprocess.run([sys.executable, "-m", "agent", "check-config", "--static", "-c",
                          str(ROOT / "configs" / "industrial-opcua.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_nothing_of_opcua_is_imported_unless_configured():
    code = ("import sys; from agent import config; from agent.service import Agent; "
            "from agent.sources import plugins; plugins(); "
            "print(sorted(m for m in ('asyncua', 'asyncio') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_a_value_the_server_marks_bad_is_counted_and_never_used(server):
    # On the old code the status was not looked at: a broken sensor was counted as "opcua non-numeric: None"
    # (asyncua drops the value of a Bad one), and a server that sends a value with its Bad status had it used.
    rejects = Rejects()
    src = OpcUaSource(config(server.port, pressure="ns=2;s=Skid1.pressure", broken="ns=2;s=Skid1.broken"),
                      ["pressure", "broken"], rejects)
    reader = Reader(src)
    try:
        assert wait_until(lambda: "pressure" in reader.sensors() and rejects.counts["opcua bad status"] >= 1,
                          60), rejects.as_dict()
        assert reader.sensors() == {"pressure"}
    finally:
        reader.close()


@pytest.mark.parametrize("how", ["status change BadTimeout", "deleted without a word"])
def test_a_subscription_the_server_ends_is_counted_and_made_again(server, how):
    # qa9 found and left it: on the old code a status change was only debug-logged and a subscription deleted
    # silently (the next publish answered BadNoSubscription) left asyncua's publish loop ended: the session's
    # heartbeat read still worked, so the source stayed connected and silent, nothing counted.
    import signal
    rejects = Rejects()
    src = OpcUaSource(config(server.port), ["pressure", "temp_motor"], rejects)
    reader = Reader(src)
    try:
        assert wait_until(lambda: reader.sensors() == {"pressure", "temp_motor"}, 60), rejects.as_dict()
        server.proc.send_signal(signal.SIGUSR1 if how.startswith("status") else signal.SIGUSR2)
        assert server.proc.stdout.readline().strip() == "ENDED 1"
        assert wait_until(lambda: rejects.counts["opcua subscription ended"] >= 1, 90), rejects.as_dict()
        before = len(reader.records)
        assert wait_until(lambda: reader.sensors(since=before) == {"pressure", "temp_motor"}, 60), rejects.as_dict()
        assert rejects.counts["opcua unreachable"] == 0
    finally:
        reader.close()


def test_silent_nodes_are_read_in_one_request_each_judged_alone(server):
    # 20 nodes that never change and one held at BadSensorFailure: one notification each, then only keep-alives. The
    # silent-node Read every keep-alive keeps the constants held (a record of each every tick, long after their
    # notification's word ran out) and never the Bad one; a node the server drops among them is that sensor's
    # alone. On the old code the Read was one request per node (21 of one node a keep-alive); now one request, cut
    # at the server's MaxNodesPerRead (16 here): 16 + 5.
    rejects = Rejects()
    cfg = dataclasses.replace(config(server.port, **{n: f"ns=2;s=Skid1.{n}" for n in (*CONSTANTS, CONSTANT_BAD)}),
                              check_interval_s=0.1)
    # a held value's last word from the server counts for 2 keep-alives + 2 checks (OpcUaSource._hold): later ones
    # were vouched for by the Read
    vouched_s = 2 * keepalive_s(cfg) + 2 * cfg.check_interval_s + 1
    reader = Reader(OpcUaSource(cfg, [*CONSTANTS, CONSTANT_BAD], rejects))

    def held_after(t: float, sensors: set[str]) -> bool:
        return any(r.ts > t and set(r.values) == sensors for r in list(reader.records))

    try:
        assert wait_until(lambda: reader.sensors() == set(CONSTANTS), 60), rejects.as_dict()
        seen = time.time()
        assert wait_until(lambda: held_after(seen + vouched_s, set(CONSTANTS)), 60), rejects.as_dict()
        sizes = server.read_sizes()
        assert MAX_NODES_PER_READ in sizes and len(CONSTANTS) + 1 - MAX_NODES_PER_READ in sizes, sizes
        assert max(sizes) == MAX_NODES_PER_READ, sizes
        assert rejects.counts["opcua bad status"] >= 1 and rejects.first["opcua bad status"][1].startswith(
            f"nodes.{CONSTANT_BAD}: BadSensorFailure"), rejects.as_dict()

        server.command("drop const0")               # no word to its item: the Read finds it gone
        dropped = time.time()
        assert wait_until(lambda: rejects.counts["opcua bad node"] >= 1, 60), rejects.as_dict()
        assert rejects.first["opcua bad node"][1].startswith("nodes.const0 "), rejects.first
        assert wait_until(lambda: held_after(dropped, set(CONSTANTS[1:])), 60), rejects.as_dict()
        assert CONSTANT_BAD not in reader.sensors()
        assert rejects.counts["opcua unreachable"] == 0
    finally:
        reader.close()
