"""An outbox event's age across a step of this host's clock (review41; review40 found it by reading).

The outbox judged `max_age_s` on the wall clock alone: a gateway with no RTC that NTP sets a day forward while
events wait for the broker dropped them all as `max_age`, though they had waited seconds. Now a step, told from
the boot-time clock, is taken out of the waiting events' ages. The outbox takes its clocks as parameters: the
tests hand it a wall clock they step (real values), and the real boot-time clock or one they advance.
"""
from __future__ import annotations

from agent.outbox import Outbox

DAY = 86400.0


class Clock:
    """A clock reading what the test set: the wall clock a test steps, or a boot-time clock it advances."""

    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_step_forward_of_the_wall_clock_ages_no_waiting_event(tmp_path):
    wall = Clock(1_800_000_000.0)
    box = Outbox(tmp_path / "outbox.db", max_events=100, max_age_s=3600, clock=wall)   # the real boot clock
    ids = [box.add("a1", seq, "new" if seq == 0 else "update", f'{{"seq": {seq}}}') for seq in range(3)]
    assert None not in ids
    wall.at += 2 * DAY                  # NTP sets the clock two days on; no time passed
    assert [e.id for e in box.pending()] == ids
    assert box.expire() == 0
    assert box.dropped_this_run.get("max_age", 0) == 0
    assert box.stats()["oldest_age_s"] < 60
    box.close()
    # The stored rows were moved with the step: the next start (no step since) ages them as they waited.
    again = Outbox(tmp_path / "outbox.db", max_events=100, max_age_s=3600, clock=wall)
    assert [e.alert_id for e in again.pending()] == ["a1"] * 3
    assert again.dropped.get("max_age", 0) == 0
    again.close()


def test_the_age_goes_on_by_the_time_waited_across_a_step_back(tmp_path):
    wall, boot = Clock(1_800_000_000.0), Clock(500.0)
    box = Outbox(tmp_path / "outbox.db", max_events=100, max_age_s=3600, clock=wall, boot_clock=boot)
    box.add("a1", 0, "new", "{}")
    wall.at, boot.at = wall.at - DAY + 3000, boot.at + 3000     # 3000 s waited, the clock set a day back
    assert len(box.pending()) == 1
    assert 2999 <= box.stats()["oldest_age_s"] <= 3001          # not negative, not a day less
    box.add("a1", 1, "update", "{}")                             # stored after the step, in its terms
    wall.at, boot.at = wall.at + 700, boot.at + 700             # the first has waited 3700 s, the second 700 s
    assert [e.seq for e in box.pending()] == [1]
    assert box.dropped_this_run == {"max_age": 1}
    box.close()
