"""The chaos soak's `rejects counted` invariant (bench/chaos_check.py `udp_rejects`) on a life whose records without a
ts came during a stall (the chaos5 round, seed 503, tflite: life 1, 25 `no ts` records sent 1.3 s into a 5-s stall, all
25 counted `timestamp jump`). The agent stamps such a record as it comes and lets it move no time base while the
feeder stamps its own (agent/live_pace.py, mqttsrc5): the count is right; the invariant read it as 25 rejects of a
reason nothing was sent as. The summary line is life 1's, as it was written."""
from __future__ import annotations

import subprocess
import sys

from conftest import bench_module

SUMMARY = ("summary: 108 ticks, 36831 records in, rejected 1293119 (bad json: 4, duplicate: 661486, kernel drop: "
           "631291, timestamp jump: 25, unknown sensor: 6, unread at stop: 305, value out of range: 2); alerts raised 0 "
           "(events none); sensor faults 1 (source: 1); tier tflite; stopped: signal SIGTERM\n")


def test_records_without_a_ts_sent_in_a_stall_may_be_counted_as_a_timestamp_jump(tmp_path):
    chaos, check = bench_module("chaos"), bench_module("chaos_check")
    err = tmp_path / "agent-001.stderr"
    err.write_text(SUMMARY)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    agent = chaos.Agent(tmp_path, tmp_path / "agent.yaml")
    life = chaos.Life(1, proc, err, notify=None)
    life.ended_by = "sigterm"
    life.bad_sent.update({"bad json": 4, "unknown sensor": 6, "value out of range": 2, "no ts (taken)": 29})
    life.flood_sent, life.valid_in_flood, life.valid_sent = 725_400, 30, 120
    agent.lives.append(life)
    found = check.udp_rejects(agent, {"bad json", "unknown sensor", "value out of range", "duplicate"})
    assert found == {"rejects counted": []}
    life.bad_sent["no ts (taken)"] = 20         # fewer sent than counted: still said
    found = check.udp_rejects(agent, {"bad json", "unknown sensor", "value out of range", "duplicate"})
    assert found == {"rejects counted": ["life 1: 0 sent as 'timestamp jump', 25 counted"]}
