"""bench/chaos.py's flood, briefly: a real agent whose udp sender floods it (its reading resent as fast as one thread
can, 1–8 s) among bad records, for 40 s of faults, then stopped cleanly (slow). The whole soak (bench/chaos.py)
mixes floods with every other fault; here one life lives through them, so every flood is judged.

What a gateway meets when a relay's loop loses its sleep: the agent's loop must go on (ticks said on systemd's
STATUS within 30 s), its memory stay bounded, and every datagram it could not take be counted — duplicates, the
kernel's drops, what was still unread at a stop — with the soak's other invariants holding."""
from __future__ import annotations

import os
import shutil

import pytest

from conftest import bench_module

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                    reason="the mosquitto binary is not installed")
def test_floods_break_no_invariant(tmp_path):
    chaos = bench_module("chaos")
    argv = ["--seed", "12", "--duration", "40", "--gap", "4", "--faults", "flood,bad_burst",
            "--dir", str(tmp_path / "chaos")]
    if os.geteuid() != 0:
        argv.append("--no-disk")
    result = chaos.soak(chaos.parse_args(argv))
    broken = {k: v for k, v in result["invariants"].items() if v != "held"}
    assert broken == {}, (broken, result["actions"], result["floods"])
    assert result["lives"] == 1 and result["actions"].get("flood"), result["actions"]
    assert all(f["longest_silence_s"] is not None for f in result["floods"]), result["floods"]
    assert sum(f["sent"] for f in result["floods"]) > 1000, result["floods"]


def test_an_unknown_fault_is_refused():
    chaos = bench_module("chaos")
    with pytest.raises(SystemExit, match="no fault"):
        chaos.parse_args(["--faults", "flood,meteor"])
    with pytest.raises(SystemExit, match="no fault"):
        chaos.parse_args(["--faults", "bundle_drop"])          # a model tier's fault, on numpy
    assert chaos.parse_args(["--faults", "bundle_drop,flood", "--scorer", "onnx"]).faults == ["bundle_drop", "flood"]
