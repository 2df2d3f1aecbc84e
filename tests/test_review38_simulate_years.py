"""A simulate source run outside the years the aligner takes a record's time in (1970–2100, agent/window.py
MAX_TS), review38: `start: 1960-01-05T06:00:00Z` passed check-config ("ok"), and `run` refused every record it
made as `bad timestamp` (0 ticks, 100 records in, 100 rejected, then "input ended"); a duration running past 2100
lost the records after it alike. check-config refuses both now, naming the key. And an anomaly set to start when
the run has ended was never injected, unsaid: a note now."""
from __future__ import annotations

from pathlib import Path

import pytest

from config_mutants import check_config
from small_config import small_config


def _config(tmp_path: Path, **source) -> Path:
    return small_config(tmp_path, {"type": "simulate", "duration_s": 3000, **source},
                        ["S01_flow", "S01_occ", "S01_speed"])


@pytest.mark.parametrize("start", ["1960-01-05T06:00:00Z", "2100-01-01T00:00:00Z", "-5"])
def test_a_start_outside_1970_to_2100_is_refused(tmp_path, start):
    code, err = check_config(_config(tmp_path, start=start))
    assert code == 2, err
    assert f"sources[0].start: {start!r} is not between 1970 and 2100" in err, err


def test_a_duration_running_past_2100_is_refused(tmp_path):
    code, err = check_config(_config(tmp_path, start="2099-12-31T00:00:00Z", duration_s=2 * 86400))
    assert code == 2, err
    assert "sources[0].duration_s: 172800 s from 2099-12-31T00:00:00Z runs past 2100" in err, err


@pytest.mark.parametrize("start", ["1970-01-01T00:00:00Z", "2099-12-31T00:00:00Z"])
def test_a_run_inside_the_years_passes(tmp_path, start):
    code, err = check_config(_config(tmp_path, start=start))
    assert code == 0, err


def test_an_anomaly_at_or_after_the_runs_end_is_noted(tmp_path):
    """An anomaly of `anomalies` starting when the run has ended is never injected; check-config said nothing (an
    evaluation on the run found no event to score). A note at its key; one inside the run is said nothing."""
    code, err = check_config(_config(tmp_path, anomalies=[{"kind": "spike", "at_s": 1000, "target": "S01_occ"},
                                                          {"kind": "stuck", "at_s": 3000, "target": "S01_speed"}]))
    assert code == 0, err
    notes = [line for line in err.splitlines() if "never injected" in line]
    assert len(notes) == 1 and "note: sources[0].anomalies[1].at_s: 3000 s is at or after the run's end " \
                               "(duration_s 3000 s): this stuck is never injected" in notes[0], err
