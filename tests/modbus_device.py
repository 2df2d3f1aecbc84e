"""A real Modbus TCP device for tests, as a process: `python modbus_device.py PORT` serves holding
registers 0..99 = 100..199 (pymodbus's own server, unit 1) on 127.0.0.1:PORT and prints READY.
conftest.ModbusDevice(port) starts it, kills it (SIGKILL: the PLC's power cut) and starts it again on
the same port, to test a source whose peer goes away and comes back."""
from __future__ import annotations

import asyncio
import sys


async def _serve(port: int) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice
    device = SimDevice(id=1, simdata=[SimData(0, values=list(range(100, 200)), datatype=DataType.REGISTERS)])
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    task = asyncio.create_task(server.serve_forever())
    while not server.transport:             # listening once its transport is there
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    print("READY", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
