"""The real `stad-agent run` replaying a JSON-lines recording a test wrote: 1-s ticks, the numpy tier, no sinks —
what the aligner makes of a file's records, said on stderr and counted in the stop summary (qa53's repeats, qa54's
repeats after their tick closed)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO, agent_env


def replayed(tmp_path: Path, records: list[dict], sensors: list[str], **window) -> subprocess.CompletedProcess:
    """`run` on `records` written one a line to tmp_path/r.jsonl (line n is records[n - 1]), `window` keys beside
    steps 8; its finished process, which exited 0."""
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({"sensors": sensors, "tick_s": 1, "window": {"steps": 8, **window},
                                   "warmup": {"ticks": 100}, "scoring": {"chain": ["numpy"]}, "sinks": [],
                                   "state_dir": str(tmp_path / "state"),
                                   "sources": [{"type": "replay", "path": str(tmp_path / "r.jsonl"), "speed": 0}]}))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(cfg)], capture_output=True, text=True,
                         cwd=REPO, env=agent_env(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res
