"""`stad-agent listen --timeout` that heard no node status says so (user24).

A gateway's own user, under a broker ACL that lets it write its topics only, ran `listen -c agent.yaml --timeout 10`
as README suggests: Mosquitto's acl_file granted the subscriptions and delivered nothing, and listen exited 0
without a line — read as "connected, no alerts". Any gateway that ever connected leaves a retained status, so none
in the whole timeout is said. Real Mosquitto (acl_file, passwords) on a free 127.0.0.1 port; real listen processes."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO
from mqtt_broker import make_broker  # noqa: F401 — the fixture

BASE = "stad/a10/site1/gw1"
ACL = f"""user gw
topic write {BASE}/#

user ops
topic read stad/a10/#
"""
SAID = "no status of"


def listen(broker, user: str, pw_file, timeout: float = 3.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "listen", "--host", "127.0.0.1", "--port", str(broker.port),
                           "--prefix", "stad/a10", "--site", "site1", "--node", "gw1", "--username", user,
                           "--password-file", str(pw_file), "--timeout", str(timeout)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_listen_that_may_not_read_the_status_says_so(make_broker, tmp_path):  # noqa: F811
    broker = make_broker(users={"gw": "gw-pw", "ops": "ops-pw"}, acl=ACL)
    for user in ("gw", "ops"):
        (tmp_path / user).write_text(f"{user}-pw\n")
    # the gateway's retained status, as its sink leaves it
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", "gw", "-P", "gw-pw", "-q", "1",
                    "-r", "-t", f"{BASE}/status", "-m", "online"], check=True, timeout=30)
    ops = listen(broker, "ops", tmp_path / "ops")
    assert ops.returncode == 0, ops.stderr
    assert "site1/gw1 is online" in ops.stdout and SAID not in ops.stderr
    gw = listen(broker, "gw", tmp_path / "gw")
    assert gw.returncode == 0, gw.stderr
    assert "is online" not in gw.stdout
    said = [ln for ln in gw.stderr.splitlines() if SAID in ln]
    assert len(said) == 1 and "WARNING" in said[0], gw.stderr
    assert f"user 'gw' may not read {BASE}/status" in said[0]
