"""qa56 (qa55's left item): a reason steady from one sender is counted without a line (records.Rejects) — for hours,
perhaps — and the stop summary gave it as a number beside the others: nothing said it was never logged, nor from
whom. Now the summary says each reason counted without a line while steady, after the rejects' `);`: how many, the
sender (an MQTT broker's topics), the rate, and whether it was still steady at the stop. The line's head, read by
bench/chaos_check.py, is unchanged. A real Agent (the demo config) whose Rejects' clock the test moves: a controller
that sends every datagram twice for twenty minutes, and a bridge that repeated every topic a while and stopped."""
from __future__ import annotations

from collections import Counter

from agent.config import from_dict
from agent.records import REPEAT_S, Origin
from agent.service import Agent
from agent.stop_summary import format_summary
from conftest import NO_DEMO, REPO, bench_module, demo_dict

pytestmark = NO_DEMO

UDP = "udp 10.0.0.5:4000"
BROKER = "mqtt 127.0.0.1:1883"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_stop_summary_says_which_reasons_were_steady_and_keeps_its_head(tmp_path):
    d = demo_dict(tmp_path / "state")
    d["warmup"]["ticks"] = 300
    agent = Agent(from_dict(d, base_dir=str(REPO)), max_ticks=40)
    clock = Clock()
    rejects = agent.rejects
    rejects.clock = clock
    topics = [Origin(f"mqtt plant/K0{st}/{q}", BROKER) for st in (12, 14) for q in ("flow", "occ")]
    for i in range(int(20 * REPEAT_S)):     # twenty minutes, a second at a time
        clock.t += 1.0
        for _ in range(2):                  # the controller: 2 repeats a second, all through
            rejects.add("repeated reading", UDP, "sensor 'K028_flow' at …: the same reading again")
        if i < 6 * REPEAT_S:                # the bridge: 1 clock skew a second for six minutes, then none
            rejects.add("clock skew", topics[i % 4], "ts … is +60 min from this host's clock")
    summary = agent.run()
    line = format_summary(summary)
    # on 740108ec: "rejected 2760 (clock skew: 360, repeated reading: 2400); alerts raised …" and nothing more
    head = "rejected 2760 (clock skew: 360, repeated reading: 2400); "
    steady = (
        "counted without a line while steady: clock skew 235 (from mqtt 127.0.0.1:1883 on topics 'plant/K012/flow', "
        "'plant/K012/occ', 'plant/K014/flow', 'plant/K014/occ' at about 60 a minute: steady 4 min, ended 14 min "
        "before the stop) and repeated reading 2155 (from udp 10.0.0.5:4000 at about 120 a minute: said steady 18 min "
        "before the stop and steady still); alerts raised ")
    assert head + steady in line, line
    # bench/chaos_check.py reads the head as before: the counts, then the alerts
    check = bench_module("chaos_check")
    m = check.SUMMARY.search(line)
    assert Counter({k: int(v) for k, v in (p.rsplit(": ", 1) for p in m.group(4).split(", "))}) == \
        Counter(summary["rejected"]) == Counter({"clock skew": 360, "repeated reading": 2400})
    assert check.ALERTS_SAID.search(line), line
