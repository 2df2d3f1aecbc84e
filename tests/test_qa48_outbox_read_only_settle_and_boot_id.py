"""Two of review42's outbox paths, read as a reviewer (qa48).

1. A state dir read-only at start, writable again later: the outbox's waiting events were read from its file and
   sent from memory, and the broker acknowledged them; the file was opened (and those rows deleted) only by the next
   event or acknowledgement. A quiet gateway (no alert after the disk mended) kept them in the file and stopped:
   the next start sent every one of them again, and health's outbox `problem` still said read-only. Now the file is
   opened by the next health snapshot (`stats()`) and at the stop (`close()`).
2. A host without /proc/sys/kernel/random/boot_id (a kernel or sandbox that hides it): the outbox took every
   restart for a reboot, and a reboot's rule (the wall clock may not have run less than this boot's uptime) aged
   the waiting events by the whole uptime — on a gateway up two days, a restart 30 s long dropped every waiting
   event as `max_age`. Now, with no boot id, the boot clock's own run is the bound: it ran on since the last commit
   (the same boot, unknown) or it went back (another boot, for certain).

Real files and the kernel's EROFS from a read-only bind mount in a user and mount namespace of our own (`unshare
-rm`, as review41/42's tests), the boot id hidden there by a bind mount of /dev/null; hand clocks stand for the
wall and boot clocks (as tests/test_review42_outbox_age_across_restart.py). Skipped where no namespace is allowed.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from agent.outbox import Outbox
from conftest import REPO
from read_only_mount import ro_capable  # noqa: F401 — a pytest fixture


def rows(outbox: Path) -> list[int]:
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        return sorted(seq for (seq,) in db.execute("SELECT seq FROM events"))
    finally:
        db.close()


def in_namespace(tmp_path: Path, body: str, *args: str) -> str:
    """Run `body` (Python) in a user and mount namespace of our own; its stdout. It mounts with `mount(...)`."""
    script = tmp_path / "inside.py"
    script.write_text("import subprocess, sys\n"
                      "def mount(*a):\n    subprocess.run(['mount', *a], check=True)\n" + textwrap.dedent(body))
    res = subprocess.run(["unshare", "-rm", sys.executable, str(script), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def four_waiting(path: Path) -> None:
    box = Outbox(path, max_events=100, max_age_s=86400)
    for seq in range(4):
        box.add("a", seq, "update", "{}")
    box.close()


def test_events_acknowledged_while_read_only_leave_the_file_once_writable_without_a_new_event(tmp_path, ro_capable):
    # On review42's code both files still held the 4 acknowledged rows (the next start sent them again), and
    # health's outbox problem still said read-only after the remount.
    state = tmp_path / "state"
    state.mkdir()
    four_waiting(state / "stopped.sqlite")
    four_waiting(state / "health.sqlite")
    out = in_namespace(tmp_path, """
        from agent.outbox import Outbox
        state = sys.argv[1]
        mount('--bind', state, state)
        mount('-o', 'remount,bind,ro', state)
        boxes = [Outbox(f'{state}/{name}.sqlite', max_events=100, max_age_s=86400) for name in ('stopped', 'health')]
        for box in boxes:
            waiting = box.pending()
            assert [(e.seq, e.replay) for e in waiting] == [(s, True) for s in range(4)], waiting
            box.ack(*[e.id for e in waiting])              # the broker has them all
            assert box.stats()['problem'] is not None
        mount('-o', 'remount,bind,rw', state)              # the disk mended; no alert comes
        stopped, health = boxes
        stopped.close()                                    # a stop: the file opened, the acknowledged rows deleted
        stats = health.stats()                             # a health snapshot does the same
        print(stats['problem'], stats['depth'])
        health.close()
    """, str(state))
    assert out.split() == ["None", "0"]
    assert rows(state / "stopped.sqlite") == [] and rows(state / "health.sqlite") == []
    again = Outbox(state / "stopped.sqlite", max_events=100, max_age_s=86400)
    assert again.pending() == []                        # not sent a second time
    again.close()


def test_without_a_boot_id_a_restart_keeps_the_age_the_events_waited(tmp_path, ro_capable):
    # On review42's code: `0 == 3`, the 3 events dropped as max_age at the reopen (aged by 2 days of uptime).
    out = in_namespace(tmp_path, """
        mount('--bind', '/dev/null', '/proc/sys/kernel/random/boot_id')    # a host that says no boot id
        from agent.host_clock_step import boot_id
        assert boot_id() is None
        from agent.outbox import Outbox
        DAY = 86400.0
        clocks = {'boot': 2 * DAY, 'wall_less_boot': 1.8e9}     # up two days

        def open_box():
            return Outbox(sys.argv[1], max_events=100, max_age_s=3600,
                          clock=lambda: clocks['wall_less_boot'] + clocks['boot'], boot_clock=lambda: clocks['boot'])

        box = open_box()
        for seq in range(3):
            box.add('a', seq, 'update', '{}')
        clocks['boot'] += 60
        box.close()
        clocks['boot'] += 30                                # a restart, the same boot, no step
        box = open_box()
        print(box.depth, box.dropped.get('max_age', 0), box.stats()['oldest_age_s'])
        box.close()
        clocks['boot'] += 30
        clocks['wall_less_boot'] -= DAY                     # the clock stepped back a day while down
        box = open_box()
        print(box.depth, box.dropped.get('max_age', 0), box.stats()['oldest_age_s'])
        box.close()
        clocks['wall_less_boot'] += clocks['boot'] - 100    # a reboot (the boot clock from 0, up 100 s) ...
        clocks['boot'] = 100.0
        clocks['wall_less_boot'] -= 30 * DAY                # ... with a clock 30 days back (no RTC)
        box = open_box()
        print(box.depth, box.dropped.get('max_age', 0), box.stats()['oldest_age_s'])
        box.close()
    """, str(tmp_path / "o.sqlite"))
    same_boot, stepped_back, rebooted = (line.split() for line in out.splitlines())
    assert same_boot[:2] == ["3", "0"] and 89 <= float(same_boot[2]) <= 91
    assert stepped_back[:2] == ["3", "0"] and 119 <= float(stepped_back[2]) <= 121     # a step back: exact
    assert rebooted[:2] == ["3", "0"] and 219 <= float(rebooted[2]) <= 221      # at least the uptime (100 s) more


def test_a_step_while_down_does_not_age_the_events_held_while_read_only(tmp_path, ro_capable):
    # On review42's code the event made while read-only was stored, then moved back by the day the clock had
    # stepped while the agent was down: a day old at once, dropped as max_age (`['0', '1']`).
    state = tmp_path / "state"
    state.mkdir()
    out = in_namespace(tmp_path, """
        from agent.outbox import Outbox
        state = sys.argv[1]
        DAY = 86400.0
        clocks = {'boot': 1000.0, 'wall_less_boot': 1.8e9}

        def open_box():
            return Outbox(f'{state}/o.sqlite', max_events=100, max_age_s=3600, boot='boot-1',
                          clock=lambda: clocks['wall_less_boot'] + clocks['boot'], boot_clock=lambda: clocks['boot'])

        box = open_box()
        box.add('a', 0, 'update', '{}')                     # waits (no broker)
        clocks['boot'] += 60
        box.close()
        clocks['boot'] += 30
        clocks['wall_less_boot'] -= DAY                     # stepped back a day while the agent was down
        mount('--bind', state, state)
        mount('-o', 'remount,bind,ro', state)
        box = open_box()                                    # read-only: degraded
        waiting = box.pending()
        box.ack(waiting[0].id)                              # the broker has the old one
        box.add('a', 1, 'update', '{}')                     # a new event, held in memory
        mount('-o', 'remount,bind,rw', state)
        clocks['boot'] += 10
        assert box.add('a', 2, 'update', '{}') is not None   # writable: opened, settled, stored
        print(sorted(e.seq for e in box.pending()), box.dropped.get('max_age', 0), box.stats()['oldest_age_s'])
        box.close()
    """, str(state))
    seqs, max_age, oldest = out.rsplit(" ", 2)
    assert (seqs, max_age) == ("[1, 2]", "0") and float(oldest) <= 11
    assert rows(state / "o.sqlite") == [1, 2]
