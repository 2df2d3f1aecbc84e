"""What went wrong with a Modbus TCP device, in the agent's words, for the `modbus H:P unreachable (…)` log line
and the `source` fault's summary (which keeps the first reason of an outage).

pymodbus says a stopped PLC as "Modbus Error: [Connection] ModbusTcpClient 127.0.0.1:15020: Connection unexpectedly
closed 0.000 seconds into read of unbounded read bytes without response from device before it closed connection",
and that sentence stood inside the operator's FAULT line (user25); a failed connect it only logs (its `connect()`
returns False), so the source said a bare "cannot connect". Here each is said as what happened to the connection —
closed, refused, no answer in time, no route — with host:port; pymodbus's own text goes to the debug log."""
from __future__ import annotations

import errno
import socket


def read_failure(exc: BaseException, host: str, port: int, timeout_s: float) -> str:
    """A read that raised: pymodbus's ConnectionException (the device closed the connection, or a send on it
    failed), its ModbusIOException (no answer within the timeout), or a socket's own error it let through."""
    where = f"the device at {host}:{port}"
    name = type(exc).__name__
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)) or name == "ConnectionException":
        return f"{where} closed the connection"
    if isinstance(exc, TimeoutError) or name == "ModbusIOException":
        return f"{where} did not answer a read within {timeout_s:g} s"
    if isinstance(exc, OSError):
        return f"{where}: the connection failed ({exc.strerror or name})"
    return f"{where} answered what could not be read as Modbus ({name})"


def connect_failure(host: str, port: int, timeout_s: float) -> str:
    """Why a TCP connection to host:port cannot be made, found by making one (pymodbus's failed connect logs the
    reason and returns False): refused, no answer, no route, a host name that does not resolve. A device that
    answers this probe came back between the two: said as such."""
    where = f"the device at {host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return f"{where} refused the Modbus client's connection, then accepted one"
    except ConnectionRefusedError:
        return f"{where} refused the connection (nothing listens on port {port}: the device or its Modbus server " \
               "is off)"
    except socket.gaierror:
        return f"the host name {host!r} does not resolve"
    except TimeoutError:
        return f"{where} did not answer a connect within {timeout_s:g} s (powered off, or the link is down)"
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"{where} cannot be reached: {exc.strerror} (the network link or the route)"
        return f"{where}: connecting failed ({exc.strerror or type(exc).__name__})"


#: Modbus exception codes (the application protocol's, section 7) as what they mean for a read of registers
EXCEPTIONS = {
    1: "illegal function (the device does not serve this read: does it hold this table?)",
    2: "illegal data address (a register not in the device's map: check the address, and the table)",
    3: "illegal data value (the device refuses this many registers in one read)",
    4: "server device failure (the device failed while reading)",
    5: "acknowledge (the device is busy with a long command)",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable (the gateway has no route to this unit_id)",
    11: "gateway target device failed to respond (no device answered at this unit_id behind the gateway)",
}


def exception_said(response: object) -> str:
    """An error answer in the agent's words: `exception 2, illegal data address (…)`, not pymodbus's
    `ExceptionResponse(dev_id=1, function_code=131, exception_code=2)` (qa52: the operator had the code to look up)."""
    code = getattr(response, "exception_code", None)
    if not isinstance(code, int):
        return f"an error answer ({response})"
    return f"exception {code}, {EXCEPTIONS.get(code, 'a code the Modbus standard does not name')}"
