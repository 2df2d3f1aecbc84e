"""The stop summary counts the live records' rejects apart from the warm-up recording's (user30).

user29's run said `1144 records in, rejected 1 (missing time: 1)`: the one reject was a units line of a
`warmup.replay` file, not of the 1,144 live records; the run resumed from its checkpoint (no warm-up read) said
`rejected 0` for live data of the same kind. Now the first says `rejected 0 (none); warm-up recording rejected 1
(missing time: 1)` and the resumed one `rejected 0 (none)`: the two read alike (health's `rejected` is left as it
was: both). The resumed run's ticks are its own beside the lifetime count (it said `14400 ticks, 3534 records
in` for 3,600 ticks of its own). Real agents on real files.
"""
from __future__ import annotations

import subprocess
import sys

import yaml

from conftest import agent_env

HEADER = "datetime;Current;Voltage\n"


def rows(date: str, minutes: int, first_min: int = 0) -> str:
    return "\n".join(f"{date} 07:{first_min + s // 60:02d}:{s % 60:02d};{2 + (s * 7) % 11 / 10:.2f};"
                     f"{230 + (s * 3) % 7 / 10:.2f}" for s in range(minutes * 60)) + "\n"


def test_the_warm_up_recordings_rejects_are_said_apart_from_the_live_ones(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "2026-11-05.csv").write_text(HEADER + ";A;V\n" + rows("2026-11-05", 6))   # a units line
    (tmp_path / "2026-11-06.csv").write_text(HEADER + rows("2026-11-06", 3))
    (tmp_path / "2026-11-06b.csv").write_text(HEADER + rows("2026-11-06", 3, first_min=3))    # where it stopped
    fmt = {"separator": ";", "time_column": "datetime", "columns": {"Current": "current", "Voltage": "voltage"}}
    cfg = {"tick_s": 1, "sensors": ["current", "voltage"], "warmup": {"ticks": 60, "replay": "rec",
                                                                      "replay_format": fmt},
           "scoring": {"chain": ["numpy"]}, "state_dir": "st", "sinks": []}
    summaries = []
    for live in ("2026-11-06.csv", "2026-11-06b.csv"):       # the second resumes from the first's checkpoint
        (tmp_path / "a.yaml").write_text(yaml.safe_dump({**cfg, "sources": [{"type": "replay", "path": live, **fmt}]}))
        done = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "a.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, env=agent_env())
        assert done.returncode == 0, done.stderr[-3000:]
        summaries.append(done.stderr.strip().splitlines()[-1])
    first, resumed = summaries
    assert first.startswith("summary: 180 ticks, 180 records in, rejected 0 (none); warm-up recording rejected 1 "
                            "(missing time: 1); alerts raised"), first
    assert resumed.startswith("summary: 180 ticks, 180 records in, rejected 0 (none); alerts raised"), resumed
    assert resumed.endswith("; 360 ticks with the resumed state's; stopped: input ended"), resumed   # (this run's: 180)
