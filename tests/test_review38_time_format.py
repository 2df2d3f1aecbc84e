"""A replay's `time_format` that cannot read the time column (review38): `%s` (epoch seconds, which strftime knows
and strptime does not) and a format without a year (`%H:%M:%S`: its times read as 1900) passed check-config with
"ok", and `run` refused every row (`bad time`, `bad timestamp`). check-config refuses them now at the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from config_mutants import check_config
from small_config import small_config


def _config(tmp_path: Path, time_format: str) -> Path:
    (tmp_path / "r.csv").write_text("timestamp,a\n2026-01-05 06:00:00,1\n")
    return small_config(tmp_path, {"type": "replay", "path": "r.csv", "time_format": time_format}, ["a"])


@pytest.mark.parametrize("time_format, said", [
    ("%s", "'%s' cannot read a time it writes: 's' is a bad directive"),
    ("%H:%M:%S", "'%H:%M:%S' holds no year: its times read as 1900"),
    ("%b %d %H:%M:%S", "'%b %d %H:%M:%S' holds no year"),
])
def test_a_format_that_cannot_read_a_time_is_refused(tmp_path, time_format, said):
    code, err = check_config(_config(tmp_path, time_format))
    assert code == 2, err
    assert f"sources[0].time_format: {said}" in err, err


@pytest.mark.parametrize("time_format", ["%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M", "%Y%m%dT%H%M%S%z",
                                         "%Y-%m-%dT%H:%M:%S.%fZ", "%y-%j %I:%M %p %Z"])
def test_a_format_with_a_date_passes(tmp_path, time_format):
    code, err = check_config(_config(tmp_path, time_format))
    assert code == 0, err
