"""A gateway whose clock was stepped back while the agent was down (an RTC a day fast at boot, then
NTP): the checkpoint's last tick lies ahead of the host's clock. A live source stamps with that
clock, so every record would be 'late' for the restored time base until the clock caught up — a
day blind. The restarted agent keeps what it learned, starts its time base from the live data,
refills the window and scores again; the warning says why."""
from __future__ import annotations

import json
import re
import time

import jsonschema

from restart_helpers import SCHEMA, AgentProcess, alert_lines, copy_run, row, write_config

DAY_S = 86_400.0


def stamped(i: int, t0: float) -> str:
    """restart_helpers' row i (a step on `a` in rows 170–199), stamped t0 + i."""
    rec = json.loads(row(i))
    rec["ts"] = t0 + i
    return json.dumps(rec) + "\n"


def test_a_checkpoint_ahead_of_the_host_clock_does_not_blind_a_live_agent(tmp_path):
    # On the old code the restarted agent restored the aligner's time base a day ahead and rejected
    # every live record as 'late' (summary: rejected 150 (late: 150)), no tick scored, no alert.
    first = tmp_path / "first"
    first.mkdir()
    cfg = write_config(first)        # synthetic stamps a day ahead of this host: no skew check
    ahead = AgentProcess(first, cfg, "run1")
    ahead.ready()
    t_ahead = time.time() + DAY_S
    ahead.feed(stamped(i, t_ahead) for i in range(150))
    assert ahead.finish() == 0
    assert (first / "state" / "checkpoint.bin").is_file()

    second = tmp_path / "second"
    second.mkdir()
    cfg2 = copy_run(first, second)
    doc = cfg2.read_text().replace("max_clock_skew_s: 0", "max_clock_skew_s: 300")   # the host's clock is right now
    cfg2.write_text(doc)
    agent = AgentProcess(second, cfg2, "run2")
    status = agent.ready()
    assert re.search(r"last tick 2\d\.\d h ahead of this host's clock, time base not kept", status), status
    t_now = time.time()
    agent.feed(stamped(i, t_now) for i in range(100, 250))
    assert agent.finish() == 0
    err = agent.stderr()
    assert re.search(r"checkpoint .* last tick \S+ is 2\d\.\d h ahead of this host's clock", err), err[-3000:]
    assert re.search(r"first tick \S+: the time base started again; the window refills for \d+ more tick", err), err[-3000:]
    summary = [ln for ln in err.splitlines() if ln.startswith("summary:")][-1]
    assert "late" not in summary, summary
    assert "time base moved: restart 1; " in summary, summary      # (qa13: on no summary before)
    new = [a for a in alert_lines(second) if a["event"] == "new" and a["start"] >= time.strftime(
        "%Y-%m-%dT%H:%M:%S", time.gmtime(t_now + 170 - 100 - 2))]
    assert new, alert_lines(second)          # the step in rows 170–199 raised an alert, at today's time
    for a in alert_lines(second):
        jsonschema.validate(a, SCHEMA)
