"""A real `stad-agent run` on a UDP source flooded with junk (bad JSON, lists, non-numbers, inf,
datagrams over max_datagram) at line rate; and a SIGHUP after its config file was edited, while
junk keeps coming.

What must hold: every reject is counted, and the log stays readable — the first few of each
reason, then at most one line per reason a minute (it was every 1000th: 30–50 lines a second for
as long as a flood lasts); a SIGHUP with an edited config says it is not applied and whether a
restart would take it — with a bad key, the key path (the next restart, under systemd, would
exit 2 and stay down); the agent runs on and stops cleanly.
"""
from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter

import yaml

from conftest import NotifySocket, agent_env, free_port, wait_for

JUNK = [b"{not json", b"\xff\xfe\x00", b'{"a": "x"}', b"[1, 2]", b'{"a": 1e999}', b"a" * 9000]


class UdpAgent:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.cfg = {"node": {"id": "gw-flood", "site": "lab"}, "tick_s": 1, "topology": "group",
                    "sensors": ["a", "b", "c"], "sources": [{"type": "udp", "bind": "127.0.0.1", "port": self.port}],
                    "window": {"steps": 16}, "warmup": {"ticks": 30}, "scoring": {"chain": ["numpy"]},
                    "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state", "checkpoint_s": 5}
        self.path = tmp_path / "agent.yaml"
        self.path.write_text(yaml.safe_dump(self.cfg))
        self.notify = NotifySocket(f"@stad-qa14-{uuid.uuid4().hex[:12]}")
        self.err_path = tmp_path / "agent.stderr"
        with self.err_path.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(self.path)], cwd=tmp_path,
                                         stdout=subprocess.DEVNULL, stderr=err, text=True,
                                         env=agent_env(NOTIFY_SOCKET=self.notify.address))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rnd = random.Random(1)

    def flood(self, datagrams: int) -> None:
        """Half junk, half good records (no stamp: this host's clock), as fast as they can be sent."""
        for _ in range(datagrams):
            if self.rnd.random() < 0.5:
                self.sock.sendto(self.rnd.choice(JUNK), ("127.0.0.1", self.port))
            else:
                self.sock.sendto(json.dumps({k: self.rnd.gauss(0, 1) for k in "abc"}).encode(),
                                 ("127.0.0.1", self.port))

    def log(self) -> str:
        return self.err_path.read_text()

    def wait_log(self, predicate, what: str):
        return wait_for(lambda: predicate(self.log()), what, 90, self.proc)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=90) == 0
        text = self.log()
        assert "Traceback" not in text, text[-3000:]
        return text

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        self.sock.close()


@contextlib.contextmanager
def udp_agent(tmp_path):
    agent = UdpAgent(tmp_path)
    try:
        agent.notify.wait_for("READY=1", timeout=90)
        yield agent
    finally:
        agent.close()


def test_a_junk_flood_is_counted_with_a_few_lines_per_reason(tmp_path):
    with udp_agent(tmp_path) as agent:
        agent.flood(120_000)        # far past the 1000 of a reason that were each one line before
        agent.wait_log(lambda t: t.count("bad json") >= 5 and t.count("datagram too long") >= 5,
                       "the first rejects logged")
        text = agent.stop()
    summary = text.strip().splitlines()[-1]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"([a-z][a-z ]+): (\d+)", summary.split("(", 1)[1])}
    assert counts.get("bad json", 0) > 1000 and max(counts.values()) > 7000, summary   # every 1000th: > 7 lines
    # The first five of each reason, then at most one a minute: the run lasts far less than a minute
    # past its first rejects, so at most six lines of any reason.
    lines = Counter(m.group(1) for m in re.finditer(r"rejected [^:]+(?::\d+)?: ([a-z ]+?)(?: —| ×|$)", text, re.M))
    assert lines and max(lines.values()) <= 6, lines


def test_a_sighup_after_the_config_was_edited_says_it_is_not_applied_and_whether_a_restart_takes_it(tmp_path):
    # On the old code SIGHUP reloaded the model bundle (here: said there is none) and said nothing of
    # the edited file: its bad key went unnoticed until the next restart refused it (exit 2).
    with udp_agent(tmp_path) as agent:
        agent.flood(2000)
        agent.wait_log(lambda t: "bad json" in t, "the first rejects logged")
        bad = {**agent.cfg, "sinks": [{"type": "jsonl", "path": "alerts.jsonl", "pth": "x"}]}
        agent.path.write_text(yaml.safe_dump(bad))
        agent.proc.send_signal(signal.SIGHUP)
        agent.flood(2000)
        agent.wait_log(lambda t: re.search(r"SIGHUP: \S+agent\.yaml changed since this agent started and a restart "
                                           r"would refuse it — 1 problem\(s\): sinks\[0\]\.pth: unknown key", t),
                       "the SIGHUP line naming the bad key")
        agent.path.write_text(yaml.safe_dump({**agent.cfg, "checkpoint_s": 10}))     # fixed, and another change
        agent.proc.send_signal(signal.SIGHUP)
        agent.flood(2000)
        agent.wait_log(lambda t: "it is not applied (SIGHUP reloads the model bundle only): restart the agent to run "
                                 "with it (check-config finds no problem in it)" in t, "the SIGHUP line for a good file")
        text = agent.stop()
    assert len(re.findall(r"SIGHUP: \S+agent\.yaml changed", text)) == 2, text[-3000:]
