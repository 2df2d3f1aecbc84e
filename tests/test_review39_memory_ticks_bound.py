"""`threshold.memory_ticks` bounded (review39, found by /tmp/review39/fuzz.py: each numeric key of the README's
reference set to extremes in configs/demo.yaml made runnable): 10**300 passed check-config and Agent() raised
OverflowError (the learned scores' deque) at every start, a crash loop under systemd. Refused at its key now; the
bound itself starts."""
from __future__ import annotations

import yaml

from agent.config import MEMORY_TICKS_MAX
from config_mutants import check_config, start
from small_config import small_config

SOURCE = {"type": "simulate", "duration_s": 3600}


def _config(tmp_path, memory_ticks: int):
    f = small_config(tmp_path, SOURCE, ["S01_flow", "S01_occ", "S01_speed"], tick_s=1)
    data = yaml.safe_load(f.read_text())
    data["threshold"] = {"memory_ticks": memory_ticks}
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


def test_past_the_bound_is_refused_at_its_key(tmp_path):
    code, err = check_config(_config(tmp_path, 10 ** 300))
    assert code == 2 and "threshold.memory_ticks" in err and "1 problem(s)" in err, err


def test_the_bound_starts(tmp_path):
    f = _config(tmp_path, MEMORY_TICKS_MAX)
    code, err = check_config(f)
    assert code == 0, err
    assert start(f) is None
