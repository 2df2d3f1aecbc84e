"""A Python script in its own process whose stdout is JSON lines `[key, *rest]`: `taken[key] = tuple(rest)` as
they come, its stderr kept in `log`. The MQTT source tests run the real source and aligner this way (mqttsrc3,
mqttsrc4): a process that can be stopped with SIGSTOP while a broker's queue fills, as a busy gateway's is."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path


def pause(proc: subprocess.Popen) -> None:
    """SIGSTOP `proc`, and wait until every thread of it has stopped. The signal takes hold asynchronously: under
    load (mqttsrc5) the reader's network thread went on reading for a moment after it was sent, and readings the
    test published right after were read at once — not behind the backlog the test meant to build (the far-off
    sender's test failed 4 times in 19 runs beside two busy loops)."""
    from conftest import wait_until
    proc.send_signal(signal.SIGSTOP)

    def stopped() -> bool:
        try:
            return all((Path(task) / "stat").read_text().rsplit(")", 1)[1].split()[0] in "Tt"
                       for task in Path(f"/proc/{proc.pid}/task").iterdir())
        except (OSError, IndexError):
            return False
    assert wait_until(stopped, 30, proc=proc), f"process {proc.pid} not stopped 30 s after SIGSTOP"


class ScriptReader:
    def __init__(self, script: str, *args: str):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                            os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.taken: dict[float, tuple] = {}
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            key, *rest = json.loads(line)
            self.taken[key] = tuple(rest)

    def pause(self) -> None:
        """Stopped (SIGSTOP, every thread: `pause`): what is published meanwhile waits on its socket."""
        pause(self.proc)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def tell(self, line: str) -> None:
        """A line on the script's stdin (a script that reads it: asked to act now, mqttsrc5)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        self.proc.wait(30)
