"""A bundle delivered into models_dir against the same bundle given at start: the same verdict, in the same words?

Why: chaos3 (bench/fuzz_front.py `--part manifest`) held check-config against `run` for every manifest mutant of the
builtin bundle; a bundle hot-swapped in later met other code (the runtimes, each refusing it in its own words, once
per tier) until qa44 made a candidate meet the start's check first (agent/scorers/model_scorer.py `load_fitting`).
This sweeps the same mutants (every key of the manifest, two levels, deleted or set to "zz", null, -1, [], 1e12)
through both doors, in process: the start's — `preflight.problems` on the demo config with the mutant as
`scoring.bundle`, what check-config and `run` say — and a hot swap's — the mutant dropped into the models_dir of a
warmed Pipeline and HotSwap on the demo config, its load run (`HotSwap._load`, the load thread joined) and judged
(`_between_ticks`): rejected with a reason, or into its shadow (then dropped: the next mutant is judged against the
same running bundle). Verdicts: `same` (both refuse, the start's line is `scoring.bundle: <the swap's reason> (the
agent would only have the numpy fallback)`), `both take`, `words differ`, `start refuses, swap takes`, `start takes,
swap refuses`. The last is expected of what only a swap judges (a tier of the running chain lost: none here).
Prints JSON; exit 1 on any mismatch. Torch-free; ~1 min.

    python bench/swap_vs_start.py [--limit N]
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_front  # noqa: E402  (its manifest mutants)

from agent import preflight  # noqa: E402
from agent.config import from_dict  # noqa: E402
from agent.hotswap import NEW_BUNDLE, HotSwap  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.records import shorten  # noqa: E402
from agent.window import align_records  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
START_SAYS = "{} (the agent would only have the numpy fallback)"      # agent/preflight.py, after `scoring.bundle: `


def demo_cfg(work: Path, **scoring):
    d = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    d["sinks"] = [{"type": "jsonl", "path": str(work / "alerts.jsonl")}]
    d["state_dir"] = str(work / "state")
    d["warmup"]["ticks"] = 300
    d["scoring"].update(scoring)
    return from_dict(d, base_dir=str(REPO))


def warmed(work: Path) -> tuple[Pipeline, HotSwap, Path]:
    """A Pipeline on the demo bundle past its warm-up, its HotSwap, the models_dir."""
    from convert.data import source_records, training_sources
    models = work / "models"
    models.mkdir(parents=True)
    cfg = demo_cfg(work, bundle=str(DEMO_BUNDLE), models_dir=str(models))
    pipe = Pipeline(cfg)
    src = training_sources(cfg, days=0.12, seed=7, anomalies="keep")[0]
    rows = align_records(source_records(cfg, src), cfg.sensor_names(), cfg.tick_s, cfg.window.carry_forward_s)
    swap = HotSwap(cfg, pipe, poll_ticks=10 ** 9)          # polled by hand (`judge`)
    for r in rows:
        swap.on_tick(pipe.step(r))
    assert pipe.warm and pipe.model_tiers(), "the demo pipeline did not warm up on the demo bundle"
    return pipe, swap, models


def judge(swap: HotSwap, path: Path) -> tuple[bool, str | None]:
    """(refused, reason) of a hot swap of `path`, as HotSwap judges a models_dir candidate."""
    before = swap.rejected
    swap._load(path, NEW_BUNDLE)
    swap._loading.join(120)
    swap._between_ticks(poll=False)
    if swap.rejected > before:
        return True, swap.outcomes[-1]["reason"]
    assert swap.shadow is not None, f"neither rejected nor in shadow: {swap.status()}"
    swap.shadow = None
    return False, None


def start_words(work: Path, path: Path) -> list[str]:
    """The `scoring.bundle:` problem lines check-config and `run` give with `path` as the configured bundle."""
    cfg = demo_cfg(work, bundle=str(path))
    return [p for p in preflight.problems(cfg) if p.startswith("scoring.bundle: ")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="the first N mutants only")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)          # (every rejection is a WARNING line: the JSON says them)
    root = Path(tempfile.mkdtemp(prefix="swap-vs-start-"))
    started = time.monotonic()
    try:
        pipe, swap, models = warmed(root / "agent")
        manifest = json.loads((DEMO_BUNDLE / "manifest.json").read_text())
        jobs = [(p, v) for p in fuzz_front.manifest_paths(manifest) for v in fuzz_front.MANIFEST_VALUES][:args.limit]
        counts: dict[str, int] = {}
        mismatches = []
        for i, (key, value) in enumerate(jobs):
            bundle = models / f"b{i}"
            shutil.copytree(DEMO_BUNDLE, bundle)
            edited = json.loads((bundle / "manifest.json").read_text())
            node = fuzz_front.at(edited, key[:-1])
            if value == "<del>":
                del node[key[-1]]
            else:
                node[key[-1]] = value
            (bundle / "manifest.json").write_text(json.dumps(edited))
            refused, reason = judge(swap, bundle)
            (root / f"check{i}").mkdir()
            said = start_words(root / f"check{i}", bundle)
            if said and refused:
                verdict = "same" if f"scoring.bundle: {shorten(START_SAYS.format(reason), 300)}" in said \
                    else "words differ"
            elif not said and not refused:
                verdict = "both take"
            else:
                verdict = "start refuses, swap takes" if said else "start takes, swap refuses"
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict not in ("same", "both take"):
                mismatches.append({"manifest": f"{key} = {value!r}", "verdict": verdict, "start": said,
                                   "swap": reason})
            shutil.rmtree(bundle, ignore_errors=True)
        print(json.dumps({"mutants": len(jobs), "verdicts": counts, "mismatches": mismatches,
                          "still_running": pipe.chain.current.describe().get("model_id"),
                          "rejected": swap.rejected, "wall_s": round(time.monotonic() - started, 1)}, indent=1))
        return 1 if mismatches else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
