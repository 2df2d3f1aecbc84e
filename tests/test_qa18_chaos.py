"""bench/chaos.py, briefly: every fault of the soak at random on a real agent for a minute (slow).

The soak (15 minutes a seed; README, MQTT and the outbox, measured) is run by hand; this runs its
driver for 60 s of faults so that the driver and its invariants keep working — every alert and
fault event delivered, each once in the JSONL, valid, in sequence; the agent never exiting on its
own; every bad record counted; no move of the time base."""
from __future__ import annotations

import os
import shutil

import pytest

from conftest import bench_module

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                    reason="the mosquitto binary is not installed")
def test_a_minute_of_chaos_breaks_no_invariant(tmp_path):
    chaos = bench_module("chaos")
    argv = ["--seed", "4", "--duration", "60", "--gap", "6", "--dir", str(tmp_path / "chaos")]
    if os.geteuid() != 0:
        argv.append("--no-disk")        # the disk faults need a tmpfs, so root
    result = chaos.soak(chaos.parse_args(argv))
    broken = {k: v for k, v in result["invariants"].items() if v != "held"}
    assert broken == {}, (broken, result["actions"])
    assert result["lives"] > 1 and result["actions"].get("bad_burst"), result["actions"]
