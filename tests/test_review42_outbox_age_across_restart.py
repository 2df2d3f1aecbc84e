"""An outbox event's age across a restart is the time it waited, not the wall clock's reading (review42).

review41 took a step of this host's clock out of the waiting events' ages while the agent runs; a step while it
was down was not seen: a gateway whose clock NTP stepped 2 days forward between two lives (or a hand, or a
restart after `date -s`) dropped every waiting event as `max_age` at the next start, and a clock stepped back
kept them past max_age_s. Now each commit stores the wall and boot clocks and the boot's id; the next open moves
the events by the wall clock's step against the boot clock (the same boot: exact), or, after a reboot, by how far
the wall clock went back beyond this boot's uptime (a forward jump across a reboot is trusted: a gateway may be
off for weeks). Real SQLite files; hand clocks stand for the wall and boot clocks.
"""
from __future__ import annotations

from agent.outbox import Outbox

DAY = 86400.0


class Clocks:
    """A wall clock and a boot clock: time passes on both (`wait`), a step moves the wall clock only."""

    def __init__(self):
        self.boot = 1000.0
        self.wall_less_boot = 1.8e9

    def wait(self, s: float) -> None:
        self.boot += s

    def step(self, s: float) -> None:
        self.wall_less_boot += s

    def reboot(self, uptime: float) -> None:
        self.wall_less_boot += self.boot - uptime
        self.boot = uptime

    def open(self, path, **kw) -> Outbox:
        return Outbox(path, max_events=100, max_age_s=3600, clock=lambda: self.wall_less_boot + self.boot,
                      boot_clock=lambda: self.boot, **kw)


def test_a_step_forward_while_the_agent_is_down_does_not_age_the_waiting_events(tmp_path):
    # On the old code all 3 were dropped as max_age at the reopen, having waited 90 s.
    clocks = Clocks()
    box = clocks.open(tmp_path / "o.sqlite")
    for seq in range(3):
        box.add("a", seq, "update", "{}")
    clocks.wait(60)
    box.close()
    clocks.wait(30)
    clocks.step(2 * DAY)            # NTP, while the agent is down (the same boot)
    box = clocks.open(tmp_path / "o.sqlite")
    assert box.depth == 3 and box.dropped == {}
    assert 89 <= box.stats()["oldest_age_s"] <= 91
    box.close()
    again = clocks.open(tmp_path / "o.sqlite")    # moved once, for good: not again at the next start
    assert again.depth == 3 and 89 <= again.stats()["oldest_age_s"] <= 91
    clocks.wait(3600)
    assert [e.seq for e in again.pending()] == [] and again.dropped == {"max_age": 3}
    again.close()


def test_a_step_back_while_down_keeps_the_age_and_the_bound(tmp_path):
    # On the old code the events were 0 s old after a day's step back, and kept a day past max_age_s.
    clocks = Clocks()
    box = clocks.open(tmp_path / "o.sqlite")
    box.add("a", 0, "update", "{}")
    clocks.wait(600)
    box.close()
    clocks.step(-DAY)
    box = clocks.open(tmp_path / "o.sqlite")
    assert 599 <= box.stats()["oldest_age_s"] <= 601
    clocks.wait(3001)
    assert box.pending() == [] and box.dropped == {"max_age": 1}
    box.close()


def test_across_a_reboot_a_clock_gone_back_counts_the_uptime_and_a_jump_forward_is_trusted(tmp_path):
    clocks = Clocks()
    box = clocks.open(tmp_path / "back.sqlite", boot="boot-1")
    box.add("a", 0, "update", "{}")
    clocks.wait(100)
    box.close()
    clocks.reboot(uptime=20)
    clocks.step(-30 * DAY)          # no RTC: it came up with an old time
    box = clocks.open(tmp_path / "back.sqlite", boot="boot-2")
    assert 119 <= box.stats()["oldest_age_s"] <= 121      # 100 s waited before, at least the 20 s of uptime since
    box.close()

    box = clocks.open(tmp_path / "fwd.sqlite", boot="boot-2")
    box.add("b", 0, "update", "{}")
    box.close()
    clocks.reboot(uptime=20)
    clocks.step(2 * 3600)           # off 2 h, or a clock 2 h fast: across a reboot the two cannot be told apart
    box = clocks.open(tmp_path / "fwd.sqlite", boot="boot-3")
    assert box.depth == 0 and box.dropped == {"max_age": 1}
    box.close()
