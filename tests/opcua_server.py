"""A real asyncua OPC UA server for tests, run as a process: `python opcua_server.py PORT`.

Variables ns=2;s=Skid1.<name> for accel1, pressure, temp_motor (floats that change every 0.1 s),
and Skid1.label (a string). Prints READY when it serves; SIGTERM or SIGKILL ends it.
"""
from __future__ import annotations

import asyncio
import math
import sys

from asyncua import Server, ua

NAMES = ("accel1", "pressure", "temp_motor")


async def main(port: int) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/stad-test")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:stad-test")
    assert idx == 2, idx
    skid = await server.nodes.objects.add_object(ua.NodeId("Skid1", idx), "Skid1")
    variables = {n: await skid.add_variable(ua.NodeId(f"Skid1.{n}", idx), n, 0.0) for n in NAMES}
    await skid.add_variable(ua.NodeId("Skid1.label", idx), "label", "pump A")
    async with server:
        print("READY", flush=True)
        t = 0
        while True:
            t += 1
            for i, var in enumerate(variables.values()):
                await var.write_value(10.0 * (i + 1) + math.sin(t / 10 + i))
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
