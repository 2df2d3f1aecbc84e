"""What bounding the hot swap's verdicts by what is on disk costs at each write of active-bundle.json (swap10).

Why: until swap10 the record kept the newest 32 verdicts, a count; now it keeps every verdict of a release still in
models_dir (agent/release_verdicts.py `bound`), which needs each bundle's manifest digest at every write
(agent/hotswap.py `_on_disk`: models_dir listed, the sha256 of each manifest.json). Writes happen at decisions only
(a swap, a refusal, a rollback's start, a restart), in the pipeline's thread. This times `_on_disk` and the whole
`_save_record` (bound, JSON, atomic write with its fsync) with N releases in models_dir, each refused by the shadow
with a reason at the longest kept (240 characters), interleaved, and prints JSON per N: the medians and the record's
bytes. Torch-free; a few seconds.

    python bench/record_verdicts.py [--bundles 3 30 300] [--runs 15]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from agent.bundle import BUILTIN_DIR
from agent.config import from_dict
from agent.hotswap import HotSwap
from agent.pipeline import Pipeline
from agent.release_verdicts import REFUSED_SHADOW, WHY_LONGEST, manifest_digest

REPO = Path(__file__).resolve().parent.parent
DEMO = BUILTIN_DIR / "demo-corridor"


def measure(n: int, runs: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="stad-record-verdicts-"))
    try:
        models = tmp / "models"
        models.mkdir()
        manifest = (DEMO / "manifest.json").read_text()
        for i in range(n):          # a manifest each, another model_id: n releases (their model files not needed)
            (models / f"r{i}").mkdir()
            (models / f"r{i}" / "manifest.json").write_text(manifest.replace('"demo-corridor"', f'"r{i}"', 1))
        d = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
        d["sinks"] = [{"type": "jsonl", "path": str(tmp / "alerts.jsonl")}]
        d["state_dir"] = str(tmp)
        d["scoring"]["models_dir"] = str(models)
        cfg = from_dict(d, base_dir=str(REPO))
        swap = HotSwap(cfg, Pipeline(cfg))
        for i in range(n):
            swap.verdicts.record(manifest_digest(models / f"r{i}"), models / f"r{i}", REFUSED_SHADOW, "x" * WHY_LONGEST)
        on_disk, save = [], []
        for _ in range(runs):
            t = time.perf_counter()
            swap._on_disk()
            on_disk.append(time.perf_counter() - t)
            t = time.perf_counter()
            swap._save_record()
            save.append(time.perf_counter() - t)
        return {"bundles": n, "verdicts_kept": len(swap.verdicts.entries),
                "on_disk_ms": round(statistics.median(on_disk) * 1e3, 2),
                "save_record_ms": round(statistics.median(save) * 1e3, 2),
                "record_bytes": (tmp / "active-bundle.json").stat().st_size}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundles", type=int, nargs="+", default=[3, 30, 300])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    for n in args.bundles:
        print(json.dumps(measure(n, args.runs)))


if __name__ == "__main__":
    main()
