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

    def tell(self, line: str) -> None:
        """A line on the script's stdin (a script that reads it: asked to act now, mqttsrc5)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        self.proc.wait(30)
