"""qa37: an operator command whose reader goes away (`stad-agent listen | head -1`, `stad-convert inspect --json
BUNDLE | head`) ends quietly, as `evaluate | head` has since the fleet round: on main `listen` ended with a
BrokenPipeError traceback and exit 1 at the first event after the reader left, and `inspect` with one whenever its
output was bigger than the pipe's buffer (the shipped bundle's manifest is). A real mosquitto, real processes; the
read end of the pipe is closed by the test, so the write fails every time, not only when the output is large."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import alert_event, wait_until
from mqtt_broker import make_broker, broker  # noqa: F401 — fixtures

ROOT = Path(__file__).resolve().parent.parent
BASE = "stad/plant-a/gw-7"


def _publish(port: int, payload: bytes) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-q", "1", "-t", f"{BASE}/alerts", "-s"],
                   input=payload, check=True, timeout=60)


def test_listen_whose_reader_left_ends_quietly_at_the_next_event(tmp_path, broker):
    err = tmp_path / "listen.err"
    listen = subprocess.Popen([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port",
                               str(broker.port), "--timeout", "300"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=err.open("w"), text=True)
    try:
        assert wait_until(lambda: "following" in err.read_text() or listen.poll() is not None, timeout=120)
        _publish(broker.port, json.dumps(alert_event("gw-7-a", 0, "new").to_dict()).encode())
        assert "gw-7-a #0" in listen.stdout.readline()
        listen.stdout.close()                   # `| head -1`: the reader took its line and left
        for seq in range(1, 60):                # every event after it meets the closed pipe
            if listen.poll() is not None:
                break
            _publish(broker.port, json.dumps(alert_event("gw-7-a", seq, "update").to_dict()).encode())
            wait_until(lambda: listen.poll() is not None, timeout=2)
        listen.wait(timeout=120)
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait()
    said = err.read_text()
    assert listen.returncode == 0 and "Traceback" not in said and "BrokenPipe" not in said, said


def test_inspect_whose_reader_left_ends_quietly():
    for extra in ([], ["--json"]):
        inspect = subprocess.Popen([sys.executable, "-m", "convert.cli", "inspect", *extra,
                                    str(ROOT / "agent" / "models" / "demo-corridor")], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        inspect.stdout.close()                  # gone before a line was written
        _, said = inspect.communicate(timeout=300)
        assert inspect.returncode == 0 and "Traceback" not in said and "BrokenPipe" not in said, (extra, said)
