"""What of asyncua's own logging reaches the agent's log (the journal), below `--log-level debug`.

asyncua 2.x logs every publish at INFO (a line of ~1 KB each publishing interval: 80 MB a day at 1 s), so its
loggers are held at WARNING. Its warnings and errors still show, but for the lines a lost server makes it write
at each step of the agent's reconnect loop, which the source says once itself (`opcua … unreachable (…);
retrying with backoff up to 60 s`, then `subscribed to 8 node(s)`): the publish loop's `ERROR … Publish iteration
crashed` with a 15-line traceback when the connection closes, `close_session` / `close_secure_channel was called
but connection is closed` as the dead session is cleaned up (one more at every reconnect attempt: 60 an hour of
outage at the shipped `reconnect_max_s`), and the server's revision of the session timeout the agent leaves at
asyncua's default (`Requested session timeout to be 3600000ms, got 600000ms instead`, at every connect). An
operator read the traceback as the agent crashing (user23). Those are left to `--log-level debug`, where
everything of asyncua's shows as before.
"""
from __future__ import annotations

import logging

#: asyncua logger → the start of each message of it that a lost server (or a connect) makes, said by the source
OUTAGE_LINES = {
    "asyncua.client.ua_session.UaSession": ("Publish iteration crashed", "close_session was called but connection"),
    "asyncua.client.ua_client.UaClient": ("close_secure_channel was called but connection",),
    "asyncua.client.client": ("Requested session timeout to be",),
}


class OutageLines(logging.Filter):
    """Drops a logger's known outage lines; the publish loop's crash only when a closed connection caused it."""

    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.starts):
            return True
        if str(record.msg).startswith("Publish iteration crashed"):
            exc = record.exc_info[1] if record.exc_info else None
            return not isinstance(exc, (ConnectionError, OSError))
        return False


def quiet_asyncua() -> None:
    """Below debug: asyncua's loggers at WARNING, and its outage lines dropped (once per process)."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    for name, starts in OUTAGE_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, OutageLines) for f in logger.filters):
            logger.addFilter(OutageLines(starts))
