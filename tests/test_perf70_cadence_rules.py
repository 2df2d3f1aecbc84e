"""bench/cadence.py --rules splits the fault tracker's time by rule on the real demo pipelines (perf70): every rule's
part is there, a rule the tracker skips as calm reads 0 on the ticks it was not called, and the parts with the
tracker's own lines add up to the tracker's time, tick by tick (so their means do)."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from cadence import figures  # noqa: E402


def test_a_part_never_called_reads_zero_not_a_division_by_zero():
    assert figures([0.0, 0.0, 0.0]) == {"p50_us": 0.0, "p99_us": 0.0, "mean_us": 0.0, "ticks_run": 0}
    got = figures([0.0, 1e-6, 3e-6])
    assert got["ticks_run"] == 2 and got["p50_us"] == 1.0 and got["mean_us"] == round(4 / 3, 1)


def test_rules_split_the_tracker_and_add_up(tmp_path):
    out = tmp_path / "cadence.json"
    rounds = 4
    res = subprocess.run([sys.executable, str(REPO / "bench" / "cadence.py"), "--rounds", str(rounds), "--cadence-s", "0",
                          "--sweep-kib", "0", "--rules", "--out", str(out)], cwd=REPO, text=True, capture_output=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    by = json.loads(out.read_text())["latency"]["no idle, no sweep"]
    for tier in ("tflite", "numpy"):
        head = f"whole tick, {tier} tier: fault tracker"
        parts = {k[len(head) + 2:]: v for k, v in by.items() if k.startswith(head + ": ")}
        rules = {"missing", "out_of_range", "dead", "stuck", "never_varied", "implausible", "drift", "spike"}
        assert {p.rsplit(" ", 1)[0] for p in parts if p.endswith(" observe")} == rules, parts
        assert {"drift learn", "normal learn", "its own lines"} <= parts.keys(), parts
        for p, f in parts.items():
            assert 0 <= f["ticks_run"] <= rounds, (p, f)
            if f["ticks_run"] == 0:
                assert f["p50_us"] == 0.0 and f["mean_us"] == 0.0, (p, f)
        assert parts["drift observe"]["ticks_run"] == rounds and parts["its own lines"]["ticks_run"] == rounds
        # (each mean is rounded to 0.1 µs: the sum of the parts' within that of the tracker's)
        total = sum(f["mean_us"] for f in parts.values())
        assert abs(total - by[head]["mean_us"]) <= 0.05 * (len(parts) + 1) + 1e-9, (total, by[head])
