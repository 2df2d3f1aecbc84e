"""A warm-up longer than this host can hold (review38): `warmup.ticks` has no upper bound, and room for that many
rows is made when the agent is built — 10**13 ticks passed check-config with "ok", and `run` ended at every start
in `Agent()` with numpy's MemoryError (a traceback, exit 1: a crash loop under systemd). check-config refuses it
now, naming the key, the size and this host's memory and swap."""
from __future__ import annotations

from pathlib import Path


from agent.host_checks import memory_bytes
from agent.warmup import WarmupRows
from config_mutants import check_config
from small_config import small_config


def _config(tmp_path: Path, ticks: int) -> Path:
    (tmp_path / "r.csv").write_text("timestamp,a,b\n1767225600,1,2\n")
    return small_config(tmp_path, {"type": "replay", "path": "r.csv"}, ["a", "b"], tick_s=1, warmup_ticks=ticks)


def test_a_warm_up_past_this_hosts_memory_is_refused(tmp_path):
    code, err = check_config(_config(tmp_path, 10**13))
    assert code == 2, err
    assert "warmup.ticks: 10,000,000,000,000 ticks of 2 sensors are 260,770.3 GiB held until the warm-up's fit, " \
           "more than this host's" in err, err


def test_a_warm_up_this_host_holds_passes(tmp_path):
    have = memory_bytes()
    assert have is not None and have > 2**20       # (Linux: the check is made)
    fits = have // WarmupRows.row_bytes(2) // 2
    code, err = check_config(_config(tmp_path, fits))
    assert code == 0, err
