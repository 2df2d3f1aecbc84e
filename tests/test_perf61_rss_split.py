"""perf61: bench/rss.py's breakdown splits the end of the run's resident size into anonymous and file-backed
pages (with Pss and USS beside them), because the file-backed part moves with the machine's page cache (a
kernel with large ext4 folios maps a whole folio per fault: ~5-7 MiB more of the same libraries after a
`pip install` than after a reboot) while the anonymous part is the agent's. Checked on a real, short agent run
in a fresh interpreter: the split is one consistent read of the process's own memory (no RSS figure here)."""
from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import agent_env, bench_module, demo_dict


def test_the_breakdown_splits_the_end_of_the_run_into_anonymous_and_file_backed_pages(tmp_path):
    cfg = demo_dict(tmp_path, chain=["numpy"], bundle=None)
    cfg["sources"][0].update(speed=0)
    cfg["warmup"]["ticks"] = 60
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-c", bench_module("rss").BREAKDOWN_CHILD, str(tmp_path / "agent.yaml"),
                          "120"], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=agent_env())
    assert res.returncode == 0, res.stderr[-2000:]
    stages = dict(json.loads(res.stdout.splitlines()[-1]))
    end, anon, file = (stages["end of the run"], stages["end of the run: anonymous"],
                       stages["end of the run: file-backed"])
    assert stages["the warm-up's ticks held, just before the fit"] is not None      # the run got past its warm-up
    # perf72: the warm-up's end read as it ends — its high-water mark is the run's by then, so at least the size
    # just after it and at most the whole run's peak (which of the two sets the peak is what the rows say)
    by_warmup, after = stages["peak (VmHWM) by the warm-up's end"], stages["just after the warm-up's end"]
    # (read at the same instant: VmHWM is max(the kernel's high-water mark, VmRSS now). Later, the kernel's
    # high-water mark is only raised on the paths that lower RSS, so a peak reached and freed by a path that does not
    # record it reads lower at the end: seen 39.60 by the warm-up's end, 39.34 at the run's end — so 0.5 MiB of slack.)
    assert after <= by_warmup <= stages["peak (VmHWM)"] + 0.5, (after, by_warmup, stages["peak (VmHWM)"])
    # numpy's and Python's code is mapped (file-backed) and the heap is not: both parts are there
    assert anon > 1 and file > 1
    # one read of smaps_rollup against VmRSS read just before it: the same process at the same point
    assert abs(anon + file - end) < 0.5, (anon, file, end)
    assert 0 < stages["end of the run: USS (private pages)"] <= anon + file
    assert 0 < stages["end of the run: Pss"] <= anon + file
