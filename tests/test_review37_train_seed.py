"""`stad-convert train --seed` out of what the generators take is refused by flag before anything is read.

review37: `--seed -1` read the data and then died in numpy's default_rng (`ValueError: expected non-negative
integer`, a traceback, exit 1, ~35 s on the demo config); a seed past 2**64 - 1 (or one the members' seed + i
carries past it) in torch.manual_seed. Refused as every other training option is (TrainOptions.problems: exit 2,
the flag named), before torch is imported. The command runs as a process.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("flags, said", [
    (["--seed", "-1"], "--seed: must be at least 0 and, with --members 1, at most 18446744073709551615, got -1"),
    (["--seed", str(2**64)], "--seed: must be at least 0 and, with --members 1, at most 18446744073709551615, "
                             f"got {2**64}"),
    (["--seed", str(2**64 - 2), "--members", "3"],
     f"--seed: must be at least 0 and, with --members 3, at most 18446744073709551613, got {2**64 - 2}"),
], ids=["negative", "past 2**64 - 1", "members past it"])
def test_a_seed_the_generators_refuse_is_refused_by_flag(tmp_path, flags, said):
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "train", "-c", str(REPO / "configs" / "demo.yaml"),
                           "-o", str(tmp_path / "bundle"), "--days", "1", *flags, "--no-export", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"stad-convert train: {said}"], proc.stderr
    assert not (tmp_path / "bundle").exists()
