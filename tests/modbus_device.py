"""A real Modbus TCP device for tests, as a process: `python modbus_device.py PORT` serves holding
registers 0..99 = 100..199 (pymodbus's own server, unit 1) on 127.0.0.1:PORT and prints READY.
conftest.ModbusDevice(port) starts it, kills it (SIGKILL: the PLC's power cut) and starts it again on
the same port, to test a source whose peer goes away and comes back.

`ModbusServer(holding, inputs)` serves other registers in this process (a thread): holding and input
registers as two separate tables, as a PLC or meter keeps them, so a test sees which one a source read."""
from __future__ import annotations

import asyncio
import socket
import struct
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.records import Rejects


def _blocks(registers: dict[int, int]) -> list:
    """address → 16-bit word, as pymodbus's register blocks (one per run of consecutive addresses); none
    as one invalid register (pymodbus wants a block in every table)."""
    from pymodbus.simulator import DataType, SimData
    if not registers:
        return [SimData(0, count=1, datatype=DataType.INVALID)]
    blocks: list[list[int]] = []
    for address in sorted(registers):
        if blocks and blocks[-1][0] + len(blocks[-1]) - 1 == address:
            blocks[-1].append(registers[address])
        else:
            blocks.append([address, registers[address]])
    return [SimData(block[0], values=block[1:], datatype=DataType.REGISTERS) for block in blocks]


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


class ModbusServer:
    """pymodbus's server (unit 1) on a free 127.0.0.1 port (`.port`) in a thread of this process, holding
    `holding` and `inputs` (address → 16-bit word) in separate tables; an address not given is refused
    with an exception response. A context manager: stopped on leaving."""

    def __init__(self, holding: dict[int, int], inputs: dict[int, int] | None = None):
        from pymodbus.simulator import DataType, SimData, SimDevice
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # (coils, discrete inputs, holding registers, input registers): not one shared block
        no_bits = [SimData(0, values=[False], datatype=DataType.BITS)]
        self._device = SimDevice(id=1, simdata=(no_bits, no_bits, _blocks(holding), _blocks(inputs or {})))
        self._loop = asyncio.new_event_loop()
        self._server: ModbusTcpServer | None = None     # made in its loop: pymodbus wants that loop running
        self._listening = threading.Event()
        self._thread = threading.Thread(target=lambda: self._loop.run_until_complete(self._run()), daemon=True)

    async def _run(self) -> None:
        from pymodbus.server import ModbusTcpServer
        self._server = ModbusTcpServer(self._device, address=("127.0.0.1", self.port))
        task = asyncio.create_task(self._server.serve_forever())
        while not self._server.transport and not task.done():
            await asyncio.sleep(0.01)
        self._listening.set()
        await task

    def __enter__(self) -> "ModbusServer":
        self._thread.start()
        if not self._listening.wait(60) or not self._server.transport:
            raise RuntimeError(f"the Modbus server did not listen on port {self.port} within 60 s")
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(30)
        self._thread.join(30)


def polled(port: int, sensors: list[str], polls: int, **cfg):
    """`polls` polls of a Modbus source on 127.0.0.1:port (its `poll`: one that reads nothing is an empty reading here,
    where the source's record stream would wait for one that reads something), and its Rejects."""
    from agent.records import Rejects
    from agent.sources.modbus import ModbusConfig, ModbusSource
    rejects = Rejects()
    source = ModbusSource(ModbusConfig(host="127.0.0.1", port=port, poll_s=0.05, **cfg), sensors, rejects)
    try:
        return [source.poll() for _ in range(polls)], rejects
    finally:
        source.client.close()


def words(fmt: str, value, word_order: str = "ABCD") -> list[int]:
    """The registers a device holds `value` in: its big-endian bytes as 16-bit words, first address first."""
    packed = struct.pack(fmt, value)
    out = list(struct.unpack(f">{len(packed) // 2}H", packed))
    return out[::-1] if word_order == "CDAB" else out


def at(address: int, registers: list[int]) -> dict[int, int]:
    return dict(zip(range(address, address + len(registers)), registers))


def read(port: int, sensors: list[str], polls: int = 2, **cfg) -> tuple[list[dict[str, float]], Rejects]:
    """`polls` readings of a Modbus source on 127.0.0.1:port, and its rejects."""
    from agent.records import Rejects
    from agent.sources.modbus import ModbusConfig, ModbusSource
    rejects = Rejects()
    source = ModbusSource(ModbusConfig(host="127.0.0.1", port=port, poll_s=0.05, **cfg), sensors, rejects)
    records = source.records()
    try:
        return [next(records).values for _ in range(polls)], rejects
    finally:
        source.close()
        list(records)


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
