"""A real asyncua OPC UA server for tests, run as a process: `python opcua_server.py PORT [CERT_DIR] [--commands]`.

Variables ns=2;s=Skid1.<name> for accel1, pressure, temp_motor (floats that change every 0.1 s),
Skid1.label (a string) and Skid1.broken (a float that changes every 0.1 s with the status
BadSensorFailure, as a PLC reports a broken sensor wire); their browse path is /0:Objects/2:Skid1/2:<name>. With CERT_DIR the
server offers only Basic256Sha256 SignAndEncrypt with CERT_DIR/server.der + server.key.pem and
admits only the client certificate CERT_DIR/client.der. Prints READY when it serves. SIGUSR1 ends every subscription as a server does whose subscription's lifetime
ran out: a status change BadTimeout is published to it, then it is deleted (the session stays);
SIGUSR2 deletes them without a word (the client's next publish is answered BadNoSubscription, as
when a server let a subscription expire while no publish request was there to carry the status).
The server prints ENDED <n> when it has. SIGTERM stops it cleanly (asyncua closes its sessions and
its socket, as a service stopped by its supervisor; SIGKILL is the power cut).
With --commands it reads lines from its standard input and answers each with `DONE <line>`:
`remove NAME` deletes Skid1.NAME from the address space (as a PLC program download that drops a
variable), its monitored items told BadNodeIdUnknown first as the spec has it; `drop NAME` deletes it
telling nothing (asyncua 2.1's own delete: its callback's coroutine is never awaited); `add NAME` puts
it back; `mute` makes the server publish nothing on any subscription, not even a keep-alive (a
publishing engine that hung while the session and its requests are still served); `unmute` ends that;
`hold NAME` keeps Skid1.NAME at its value (a setpoint, a valve at rest: no data change at all), `vary NAME` ends that.
`bad NAME` writes Skid1.NAME with the status BadSensorFailure from then on (a wire broken mid-run), `good NAME`
ends that; `flap NAME` alternates its status Bad and Good at every write (a loose terminal), `good NAME` ends that too.
`every NAME N` writes Skid1.NAME only every N × 0.1 s (a value that changes slower than the agent's tick; N 1 ends it).
`stamp NAME S` writes Skid1.NAME with a SourceTimestamp S seconds from the server's clock (a device whose clock is off),
`stamp NAME unset` with OPC UA's unset one (DateTime 0, 1601-01-01: a server that fills only its own ServerTimestamp).
`floor N` makes it revise a shorter publishing interval asked of a subscription made from then on to N ms, as
servers with a floor do (asyncua's own grants any; `floor 0` ends it); like asyncua's, it answers a modify with
what it granted at creation. `reads` answers `DONE reads n1 n2 …`, the node count of each Read request since the
start or the last reset. `reset` undoes every command (nodes put back, none held, slowed or Bad, publishing again, no
floor) and leaves no subscription: the earlier test's clients have closed theirs (waited for, up to 10 s), any still
there is deleted — so tests share one server (tests/conftest.py `opcua_shared_server`, one per pytest process)
without depending on each other's order; with --commands the server also states a MaxNodesPerRead of 16. Skid1.const0
… const19 are never written (100 + k) and Skid1.const_bad is held at BadSensorFailure.
"""
from __future__ import annotations

import asyncio
import math
import signal
import sys
from datetime import datetime, timedelta, timezone

from pathlib import Path

from asyncua import Server, ua
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.subscription_service import SubscriptionService

NAMES = ("accel1", "pressure", "temp_motor")
#: variables never written (values that hold: the source's silent-node Read confirms them) and one held at a Bad status
CONSTANTS = tuple(f"const{k}" for k in range(20))
CONSTANT_BAD = "const_bad"
#: the number of nodes of each Read request the server was sent (`reads`): the silent nodes' Read is one request
READS: list[int] = []
#: the shortest publishing interval the server grants, ms (`floor N`; 0: any, as asyncua's own)
FLOOR_MS = [0.0]
#: the MaxNodesPerRead the server states with --commands (asyncua's own, 10 000, is no limit a test reaches)
MAX_NODES_PER_READ = 16


async def add(skid, idx: int, name: str):
    """Skid1.NAME as the server starts with it: a sine's 0.0, or a constant's 100 + k."""
    value = 100.0 + CONSTANTS.index(name) if name in CONSTANTS else 0.0
    return await skid.add_variable(ua.NodeId(f"Skid1.{name}", idx), f"{idx}:{name}", value)


def count_reads() -> None:
    """Every Read request's node count noted in READS."""
    from asyncua.server.internal_session import InternalSession
    read = InternalSession.read

    async def counted(self, params):
        READS.append(len(params.NodesToRead))
        return await read(self, params)

    InternalSession.read = counted


async def main(port: int, certs: Path | None) -> None:
    if certs is None:
        server = Server()
    else:
        from asyncua.server.user_managers import CertificateUserManager
        users = CertificateUserManager()
        await users.add_user(certs / "client.der", name="stad-agent")
        server = Server(user_manager=users)
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/stad-test")
    if certs is None:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    else:
        await server.set_application_uri("urn:stad-test:server")
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await server.load_certificate(str(certs / "server.der"))
        await server.load_private_key(str(certs / "server.key.pem"))
    if "--commands" in sys.argv:
        await server.get_node(ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)) \
            .write_value(ua.Variant(MAX_NODES_PER_READ, ua.VariantType.UInt32))
    idx = await server.register_namespace("urn:stad-test")
    assert idx == 2, idx
    skid = await server.nodes.objects.add_object(ua.NodeId("Skid1", idx), f"{idx}:Skid1")
    variables = {n: await add(skid, idx, n) for n in NAMES + CONSTANTS}
    bad = await skid.add_variable(ua.NodeId(f"Skid1.{CONSTANT_BAD}", idx), f"{idx}:{CONSTANT_BAD}", 0.0)
    await bad.write_value(ua.DataValue(ua.Variant(1.0, ua.VariantType.Double),
                                       StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure)))
    await skid.add_variable(ua.NodeId("Skid1.label", idx), f"{idx}:label", "pump A")
    broken = await skid.add_variable(ua.NodeId("Skid1.broken", idx), f"{idx}:broken", 0.0)
    stop = asyncio.Event()
    async with server:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(end_subscriptions(server, True)))
        loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(end_subscriptions(server, False)))
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # held in a name: asyncio keeps only a weak reference to a task
        held: set[str] = set()
        every: dict[str, int] = {}      # name -> written every this many steps
        bad: dict[str, str] = {}        # name -> "bad" (every write Bad) or "flap" (Bad every other write)
        stamps: dict[str, str] = {}     # name -> its writes' SourceTimestamp: "unset" or seconds from the clock
        reading = loop.create_task(commands(server, skid, idx, variables, held, every, bad, stamps)) \
            if "--commands" in sys.argv else None  # noqa: F841
        print("READY", flush=True)
        t = 0
        while not stop.is_set():
            t += 1
            for i, name in enumerate(NAMES):
                if name in variables and name not in held and t % every.get(name, 1) == 0:
                    value = 10.0 * (i + 1) + math.sin(t / 10 + i)
                    if bad.get(name) == "bad" or (bad.get(name) == "flap" and t % 2):
                        value = ua.DataValue(ua.Variant(value, ua.VariantType.Double),
                                             StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure))
                    elif name in stamps:
                        value = ua.DataValue(ua.Variant(value, ua.VariantType.Double),
                                             SourceTimestamp=source_timestamp(stamps[name]))
                    await variables[name].write_value(value)
            await broken.write_value(ua.DataValue(ua.Variant(float(t % 2), ua.VariantType.Double),
                                                  StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure)))
            await asyncio.sleep(0.1)       # the simulated skid's update rate, not a wait for an outcome


def source_timestamp(spec: str) -> datetime:
    """The SourceTimestamp of `stamp NAME spec`: OPC UA's unset one, or the clock `spec` seconds off."""
    if spec == "unset":
        return datetime(1601, 1, 1, tzinfo=timezone.utc)
    return datetime.now(timezone.utc) + timedelta(seconds=float(spec))


async def commands(server: Server, skid, idx: int, variables: dict, held: set, every: dict, bad: dict,
                   stamps: dict) -> None:
    """The test's commands from standard input (see the module's docstring), each answered DONE."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    publish = InternalSubscription.publish_results

    async def muted(self, requestdata=None) -> bool:       # nothing leaves: no change, no keep-alive
        return False

    while line := (await reader.readline()).decode().strip():
        verb, _, name = line.partition(" ")
        if verb in ("remove", "drop"):
            var = variables.pop(name)
            if verb == "remove":        # the item's last notification says so, then the node is gone
                await var.write_value(ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)))
                await asyncio.sleep(0.5)        # let the subscriptions' next publish carry it
            await var.delete()
        elif verb == "add":
            variables[name] = await add(skid, idx, name)
        elif verb in ("hold", "vary"):
            (held.add if verb == "hold" else held.discard)(name)
        elif verb in ("bad", "flap"):
            bad[name] = verb
        elif verb == "good":
            bad.pop(name, None)
        elif verb == "stamp":
            name, _, spec = name.partition(" ")
            stamps[name] = spec
        elif verb == "floor":
            FLOOR_MS[0] = float(name)
        elif verb == "every":
            name, _, n = name.partition(" ")
            every[name] = int(n)
        elif verb in ("mute", "unmute"):
            InternalSubscription.publish_results = muted if verb == "mute" else publish
        elif verb == "reset":
            held.clear()
            every.clear()
            bad.clear()
            stamps.clear()
            FLOOR_MS[0] = 0.0
            InternalSubscription.publish_results = publish
            for gone in (n for n in NAMES + CONSTANTS if n not in variables):
                variables[gone] = await add(skid, idx, gone)
            await no_subscriptions(server)
            READS.clear()
        print(f"DONE {line}", *(READS if verb == "reads" else ()), flush=True)


async def no_subscriptions(server: Server, wait_s: float = 10.0) -> None:
    """Returns once the server holds no subscription: the clients that made them closed their sessions (a client
    disconnecting deletes its subscriptions) within `wait_s`, else what is left is deleted."""
    service = server.iserver.subscription_service
    for _ in range(int(wait_s / 0.1)):
        if not service.subscriptions:
            return
        await asyncio.sleep(0.1)        # polled: the server has no event for a session closed
    await service.delete_subscriptions(list(service.subscriptions))


async def end_subscriptions(server: Server, tell: bool) -> None:
    """Each subscription deleted; with `tell`, BadTimeout published to it first, in its next answer."""
    service = server.iserver.subscription_service
    subs = dict(service.subscriptions)
    for sub in subs.values() if tell else ():
        await sub.monitored_item_srv.trigger_statuschange(ua.StatusCode(ua.StatusCodes.BadTimeout))
    for _ in range(100):           # the status change leaves with the next publish answer (≤ 10 s)
        if not any(sub._triggered_statuschanges for sub in subs.values()):
            break
        await asyncio.sleep(0.1)
    await service.delete_subscriptions(list(subs))
    print(f"ENDED {len(subs)}", flush=True)


def publishing_floor() -> None:
    """Every subscription created from here on publishes at least FLOOR_MS[0] apart (the server's revision)."""
    create = SubscriptionService.create_subscription

    async def revised(self, params, *args, **kwargs):
        params.RequestedPublishingInterval = max(params.RequestedPublishingInterval, FLOOR_MS[0])
        return await create(self, params, *args, **kwargs)

    SubscriptionService.create_subscription = revised


if __name__ == "__main__":
    if "--commands" in sys.argv:
        count_reads()
        publishing_floor()
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]), Path(args[1]) if len(args) > 1 else None))
