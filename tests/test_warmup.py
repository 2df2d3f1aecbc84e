"""Warm-up: `warmup.counts` (ticks or source rows) and `warmup.replay` (recorded normal data warmed
up on before live data, through an aligner of its own).

Real files replayed by the agent's own replay source; the agent is the daemon's `Agent` class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.config import ConfigError, from_dict
from agent.pipeline import Pipeline
from agent.window import Row
from two_sensor_csv import DAY, T0, base, write_csv

def row(ts: float, fresh: bool, carried: bool = False) -> Row:
    values = np.array([1.0, 2.0]) if fresh or carried else np.full(2, np.nan)
    none = np.zeros(2, bool)
    return Row(ts=ts, values=values, missing=np.full(2, not (fresh or carried)),
               carried=np.full(2, carried), label=None)


def test_warmup_counts_ticks_or_source_rows(tmp_path):
    live = tmp_path / "live.csv"
    write_csv(live, T0, 10, seed=0)
    rows = [row(T0 + i, fresh=i % 3 != 1, carried=i % 3 == 1) for i in range(400)]   # every third carried
    by_ticks = Pipeline(from_dict(base(tmp_path, live)))
    by_rows = Pipeline(from_dict(base(tmp_path, live, counts="rows")))
    for i, r in enumerate(rows):
        by_ticks.step(r)
        by_rows.step(r)
        if i == 199:
            assert by_ticks.warm and not by_rows.warm
    assert by_rows.warm and by_rows.warmup_counted == 200        # 200 fresh rows: within 300 ticks
    with pytest.raises(ConfigError, match="warmup.counts"):
        from_dict(base(tmp_path, live, counts="samples"))


def test_warm_up_from_a_recording_then_live_data_days_later(tmp_path):
    from agent.service import Agent

    recorded = tmp_path / "recorded"
    recorded.mkdir()
    write_csv(recorded / "normal.csv", T0, 300, seed=1)
    live = tmp_path / "live.csv"
    write_csv(live, T0 + 5 * DAY, 200, seed=2, spike_at=120)      # first live stamp five days later
    cfg = from_dict(base(tmp_path, live, replay=str(recorded)), base_dir=str(tmp_path))
    agent = Agent(cfg)
    assert agent.pipeline.warm                                   # warm before the first live record
    summary = agent.run()
    assert agent.pipeline.ticks == 200                           # every live tick, the first one included
    assert "timestamp jump" not in summary["rejected"]
    assert summary["alerts_raised"] == 1                         # the spike, scored on live data
    # the first T live ticks refilled the window and were not scored: no alert from stale context
    assert agent.events["new"] == 1


def test_a_short_recording_is_topped_up_by_live_ticks(tmp_path):
    recorded = tmp_path / "short.csv"
    write_csv(recorded, T0, 120, seed=3)
    live = tmp_path / "live.csv"
    write_csv(live, T0 + DAY, 200, seed=4)
    cfg = from_dict(base(tmp_path, live, replay=str(recorded)), base_dir=str(tmp_path))
    from agent.service import Agent
    from agent.records import Rejects
    from agent.warmup import read_replay

    assert len(read_replay(cfg, Rejects())[0]) == 120
    agent = Agent(cfg)
    assert not agent.pipeline.warm and agent.pipeline.warmup_counted == 120
    agent.run()
    assert agent.pipeline.warm and agent.pipeline.ticks == 200


def test_a_missing_warmup_recording_is_a_config_error(tmp_path):
    live = tmp_path / "live.csv"
    write_csv(live, T0, 10, seed=0)
    from agent import preflight
    cfg = from_dict(base(tmp_path, live, replay="nope.csv"), base_dir=str(tmp_path))   # a file on this machine:
    assert preflight.problems(cfg) == [f"warmup.replay: {tmp_path / 'nope.csv'} does not exist"]  # checked by preflight


def test_a_folder_of_recordings_days_apart_warms_up_on_each_without_moving_the_time_base(tmp_path, caplog):
    """Each file of warmup.replay is a recording of its own (training reads them so too): the day
    between two of them is not the data jumping ahead — no 'time base moved' warning per file
    boundary, every row of each kept (user2's six-mornings folder)."""
    from agent.records import Rejects
    from agent.warmup import read_replay

    recorded = tmp_path / "mornings"
    recorded.mkdir()
    for day in range(3):
        write_csv(recorded / f"day{day}.csv", T0 + day * DAY, 150, seed=10 + day)
    live = tmp_path / "live.csv"
    write_csv(live, T0 + 5 * DAY, 10, seed=0)
    cfg = from_dict(base(tmp_path, live, replay=str(recorded)), base_dir=str(tmp_path))
    rejects = Rejects()
    with caplog.at_level("WARNING"):
        rows, _ = read_replay(cfg, rejects)
    assert len(rows) == 450 and rejects.total == 0
    assert rows.ts[148:152].tolist() == [T0 + 148, T0 + 149, T0 + DAY, T0 + DAY + 1]
    assert not [r.getMessage() for r in caplog.records if "time base" in r.getMessage()]


def test_a_warmup_recording_that_maps_no_sensor_is_refused_by_check_config_and_run(tmp_path, capsys):
    """A recording whose columns name none of the sensors would warm up on 0 ticks while the
    config passed check-config; now both refuse it, saying what reading it rejected and with which
    format keys it was read."""
    from agent import preflight
    from agent.cli import main

    recorded = tmp_path / "pump.csv"
    recorded.write_text("timestamp,P1 bar,T1 degC\n" + "".join(f"{T0 + i:.0f},{1 + i % 3},{20 + i % 5}\n"
                                                               for i in range(50)))
    live = tmp_path / "live.csv"
    write_csv(live, T0 + DAY, 10, seed=0)
    conf = base(tmp_path, live, replay=str(recorded))
    found = preflight.problems(from_dict(conf, base_dir=str(tmp_path)))
    assert len(found) == 1 and found[0].startswith(f"warmup.replay: {recorded} gives no reading of any sensor")
    assert "no sensor columns ×1 (first: pump.csv:1" in found[0] and "sources[0]'s separator" in found[0]
    deep = tmp_path / ("d" * 50) / ("e" * 50)                  # a long path: the keys that fix it still said
    deep.mkdir(parents=True)
    (deep / "pump.csv").write_text(recorded.read_text())
    [long] = preflight.problems(from_dict(base(tmp_path, live, replay=str(deep / "pump.csv")), base_dir=str(tmp_path)))
    assert "sources[0]'s separator" in long, long

    conf["sources"][0]["columns"] = {"P1 bar": "a", "T1 degC": "b"}       # mapped: warm-up reads it
    assert preflight.problems(from_dict(conf, base_dir=str(tmp_path))) == []

    import yaml
    del conf["sources"][0]["columns"]
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(conf))
    for command in ("check-config", "run"):
        assert main([command, "-c", str(path)]) == 2, command
        assert "gives no reading of any sensor to warm up on" in capsys.readouterr().err


def write_sensors(path: Path, start: float, rows: int, sensors: int, seed: int) -> None:
    """`rows` 1-s ticks of `sensors` noisy readings s0, s1, … from `start`."""
    rng = np.random.default_rng(seed)
    body = 10.0 + rng.standard_normal((rows, sensors))
    with open(path, "w") as fh:
        fh.write("timestamp," + ",".join(f"s{j}" for j in range(sensors)) + "\n")
        np.savetxt(fh, np.column_stack([start + np.arange(rows), body]), fmt=["%.0f"] + ["%.3f"] * sensors,
                   delimiter=",")


def test_a_recording_longer_than_the_bound_keeps_its_newest_ticks_and_earlier_files_are_not_read(tmp_path, caplog):
    """warmup.replay_max_ticks: the files are read newest first; the newest file whole, the one
    before it for its last ticks, and the oldest not opened at all (its broken rows would be
    rejects); one line says what was used and what skipped."""
    from agent.records import Rejects
    from agent.warmup import read_replay

    recorded = tmp_path / "days"
    recorded.mkdir()
    (recorded / "day0.csv").write_text("timestamp,a,b\nnot a time,x,y\n")     # the oldest: never read
    for day in (1, 2):
        write_csv(recorded / f"day{day}.csv", T0 + day * DAY, 150, seed=day)
    live = tmp_path / "live.csv"
    write_csv(live, T0 + 5 * DAY, 10, seed=0)
    cfg = from_dict(base(tmp_path, live, replay=str(recorded), replay_max_ticks=200), base_dir=str(tmp_path))
    rejects = Rejects()
    rows, line = read_replay(cfg, rejects)
    assert rejects.total == 0
    assert rows.ts.tolist() == [T0 + DAY + i for i in range(100, 150)] + [T0 + 2 * DAY + i for i in range(150)]
    assert ("warm-up: 300 ticks in 2 of 3 file(s), read newest first; fitted on the last 200 ticks" in line
            and "at most 200 (warmup.replay_max_ticks); 100 ticks skipped; the 1 earlier file(s) not read" in line)
    from agent import preflight
    problems, notes = preflight.check(cfg)                  # check-config says what run will take
    assert problems == [] and ("warmup.replay: run warms up on the newest 200 ticks of it at most (3 min; "
                               "warmup.replay_max_ticks)") in "\n".join(notes)

    one = tmp_path / "one.csv"                     # one file longer than the bound: its earlier ticks let go
    write_csv(one, T0, 1000, seed=5)
    rows, line = read_replay(from_dict(base(tmp_path, live, replay=str(one), replay_max_ticks=300),
                                       base_dir=str(tmp_path)), Rejects())
    assert rows.ts.tolist() == [T0 + i for i in range(700, 1000)] and "700 ticks skipped" in line

    with pytest.raises(ConfigError, match="warmup.replay_max_ticks: must be at least warmup.ticks"):
        from_dict(base(tmp_path, live, replay=str(one), replay_max_ticks=100), base_dir=str(tmp_path))


WARMUP_HWM = """
import logging, sys
logging.basicConfig(level=logging.INFO)
from agent.config import load
from agent.service import Agent
agent = Agent(load(sys.argv[1]))
assert agent.pipeline.warm
print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))
"""


def test_the_warm_ups_peak_memory_does_not_grow_with_the_recordings_length(tmp_path):
    """A week of 1-s ticks given whole peaked at 579 MB (over the unit's MemoryMax=512M) and grew
    with every day more: the rows were all held. Now the warm-up keeps the newest
    `replay_max_ticks`: a recording 4× the bound peaks as one 2× it (fresh processes, VmHWM)."""
    import subprocess
    import sys

    import yaml
    from conftest import REPO, agent_env

    bound, sensors = 20_000, 8
    peaks = {}
    for times in (2, 4):
        rec = tmp_path / f"x{times}.csv"
        write_sensors(rec, T0, times * bound, sensors, seed=times)
        live = tmp_path / "live.csv"
        write_sensors(live, T0 + 5 * DAY, 10, sensors, seed=0)
        conf = {"sensors": [f"s{j}" for j in range(sensors)], "tick_s": 1.0, "topology": "none",
                "sources": [{"type": "replay", "path": str(live)}], "window": {"steps": 16},
                "warmup": {"ticks": 300, "replay": str(rec), "replay_max_ticks": bound},
                "scoring": {"chain": ["numpy"]}, "sinks": [], "state_dir": str(tmp_path / f"state{times}")}
        path = tmp_path / f"x{times}.yaml"
        path.write_text(yaml.safe_dump(conf))
        res = subprocess.run([sys.executable, "-c", WARMUP_HWM, str(path)], cwd=REPO, env=agent_env(),
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        assert f"fitted on the last {bound:,} ticks" in res.stderr
        # (4× the bound is read from its tail: the ticks before it never read, so not counted as skipped)
        assert f"{(times - 1) * bound:,} ticks skipped" in res.stderr or "sought past to the file's tail" in res.stderr
        peaks[times] = int(res.stdout.split()[-1])
    assert peaks[4] < 1.04 * peaks[2], peaks        # the old code: +~25 MB (+40 %) for the 40,000 more ticks


def test_systemd_hears_the_start_is_still_going_while_a_recording_is_read(tmp_path):
    """Before READY=1 the agent sends EXTEND_TIMEOUT_USEC (with a STATUS) from its first recorded
    record on, and again before the fit, so the unit's TimeoutStartSec=120 does not kill a start
    that is reading a long recording on a loaded gateway (a real NOTIFY_SOCKET)."""
    import yaml
    from conftest import NotifySocket, running_agent

    from agent.warmup import WARMUP_FIT_EXTEND_S, WARMUP_READ_EXTEND_S

    recorded = tmp_path / "week.csv"
    write_csv(recorded, T0, 5000, seed=1)
    live = tmp_path / "live.csv"
    write_csv(live, T0 + 8 * DAY, 40, seed=2)
    conf = base(tmp_path, live, replay=str(recorded))
    conf["scoring"] = {"chain": ["numpy"]}
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(conf))
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    with running_agent(path, notify) as proc:
        ready = notify.wait_for("READY=1", timeout=180)[0]
        proc.wait(timeout=180)
    before = [m for t, m in notify.messages if t < ready]
    from agent.warmup import READ_PING_S
    reads = [t for t, m in notify.messages if t < ready and m == f"EXTEND_TIMEOUT_USEC={int(WARMUP_READ_EXTEND_S * 1e6)}"]
    assert len(reads) <= 1 + (ready - reads[0]) / READ_PING_S, len(reads)      # every READ_PING_S, not every record
    assert f"EXTEND_TIMEOUT_USEC={int(WARMUP_READ_EXTEND_S * 1e6)}" in before, before
    assert f"EXTEND_TIMEOUT_USEC={int(WARMUP_FIT_EXTEND_S * 1e6)}" in before, before
    assert "STATUS=warming up: fitting on 5,000 recorded ticks" in before, before
    assert before.index(f"EXTEND_TIMEOUT_USEC={int(WARMUP_READ_EXTEND_S * 1e6)}") < before.index(
        f"EXTEND_TIMEOUT_USEC={int(WARMUP_FIT_EXTEND_S * 1e6)}")


@pytest.fixture
def short_dir():
    """A folder of a short path: check-config shortens a problem to 300 characters, and the warm-up's
    problem names the recording's path, so under a long basetemp (pytest-xdist's `popen-gwN/`, a
    long $TMPDIR) its last words, the ones the test reads, were cut."""
    import shutil
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="stad-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_warm_ups_own_format_keys_read_a_plants_recording_with_live_sources(tmp_path, short_dir, capsys):
    """A gateway's sources are live (here udp): no replay source lends its separator and columns, and a
    SKAB-like recording (`;`, a `datetime` column, the plant's column names) gave no reading — the
    README said to rewrite the files. `warmup.replay_format` reads them as they are; check-config checks
    its keys as a replay source's (a separator, the sensors its columns name) and refuses what the
    warm-up has no use for."""
    import yaml

    from agent import preflight
    from agent.cli import main
    from agent.records import Rejects
    from agent.warmup import read_replay

    recorded = short_dir / "pump.csv"
    recorded.write_text("datetime;P1 bar;T1 degC;anomaly\n" + "".join(
        f"2026-01-0{1 + i // 86400} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d};{1 + i % 3};{20 + i % 5};0\n"
        for i in range(400)))
    conf = {"sensors": ["a", "b"], "tick_s": 1.0, "topology": "none",
            "sources": [{"type": "udp", "port": 0}], "window": {"steps": 16}, "warmup": {
                "ticks": 200, "replay": str(recorded),
                "replay_format": {"separator": ";", "time_column": "datetime", "columns": {"P1 bar": "a", "T1 degC": "b"}}},
            "sinks": [], "state_dir": str(tmp_path / "state")}
    cfg = from_dict(conf, base_dir=str(tmp_path))
    rejects = Rejects()
    rows, _ = read_replay(cfg, rejects)
    assert len(rows) == 400 and rejects.total == 0 and rows.values[:3].tolist() == [[1, 20], [2, 21], [3, 22]]
    assert preflight.problems(cfg) == []

    fmt = conf["warmup"]["replay_format"]
    fmt["columns"] = {"P1 bar": "a", "T1 degC": "bb"}
    with pytest.raises(ConfigError, match=r"warmup.replay_format.columns.T1 degC: unknown sensor 'bb'"):
        from_dict(conf, base_dir=str(tmp_path))
    fmt.update(columns={"P1 bar": "a"}, separator=";;")
    with pytest.raises(ConfigError, match=r"warmup.replay_format.separator: one character"):
        from_dict(conf, base_dir=str(tmp_path))
    fmt.update(separator=";", speed=1.0)
    with pytest.raises(ConfigError, match=r"warmup.replay_format.speed"):
        from_dict(conf, base_dir=str(tmp_path))
    del fmt["speed"]
    fmt["time_column"] = "when"                 # check-config reads it as run does, and says with what
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(conf))
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "gives no reading of any sensor to warm up on" in err
    assert "read with warmup.replay_format's separator, time_column, columns" in err
