"""NAB variants against a base run, per half, per category and leave-one-file-out (README, NAB, eighth round).

    python bench/nab_compare.py BASE/nab.json VARIANT/nab.json [VARIANT2/nab.json ...] [--data ../shared/data]

Each nab.json is `bench/accuracy.py --only nab --scorer numpy --out DIR` over all files. Why: the tuning
half no longer tells variants apart (34 of its 38 windows found), and rounds moved the two halves in
opposite directions, so a variant is judged by whether its gain holds across halves, categories and
files — not by one corpus figure. For each half (the files of `bench/accuracy.py --nab-split tune|test`)
it prints the normalised standard / low-FP / low-FN scores, the standard gain, the worst category's
change in summed raw standard score, the smallest raw gain with any one file left out, and whether
the variant is *eligible* there: gain ≥ 0.5, no category losing more than 0.11 raw (one false alarm),
and a positive raw gain with any single file left out.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluate import nab  # noqa: E402
from bench.accuracy import nab_files  # noqa: E402

MIN_GAIN = 0.5
#: About one false alarm's cost in summed raw standard score.
MAX_CATEGORY_LOSS = 0.11


def half_scores(per_file: dict, names: list[str]) -> dict[str, float]:
    out = {}
    windows = sum(per_file[n]["windows"] for n in names)
    scored = sum(per_file[n].get("windows_scored", per_file[n]["windows"]) for n in names)
    for profile_name, profile in nab.PROFILES.items():
        raw = sum(per_file[n]["raw_by_profile"][profile_name] for n in names)
        out[profile_name] = nab.normalised_score(raw, windows, profile, scored)
    return out


def judge(base: dict, variant: dict, names: list[str]) -> dict:
    b, v = half_scores(base, names), half_scores(variant, names)
    delta = {n: variant[n]["raw"] - base[n]["raw"] for n in names}
    categories: dict[str, float] = {}
    for n, d in delta.items():
        categories[n.split("/")[0]] = categories.get(n.split("/")[0], 0.0) + d
    total = sum(delta.values())
    loo = min(total - d for d in delta.values())
    worst = min(categories.items(), key=lambda kv: kv[1])
    gain = v["standard"] - b["standard"]
    return {"scores": v, "gain": gain, "worst_category": worst, "loo_min_raw_gain": loo,
            "windows": sum(variant[n]["detected"] for n in names), "windows_total": sum(variant[n]["windows"] for n in names),
            "false_positives": sum(variant[n]["false_positives"] for n in names),
            "eligible": gain >= MIN_GAIN and worst[1] >= -MAX_CATEGORY_LOSS and loo > 0,
            "not_worse": gain >= 0 and worst[1] >= -MAX_CATEGORY_LOSS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("variants", nargs="+")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--scorer", default="numpy")
    args = p.parse_args(argv)
    root = Path(args.data) / "nab"
    halves = {h: [f"{c}/{f.name}" for c, files in nab_files(root, h).items() for f in files] for h in ("tune", "test")}
    base = json.loads(Path(args.base).read_text())[args.scorer]["per_file"]
    for path in [args.base, *args.variants]:
        variant = json.loads(Path(path).read_text())[args.scorer]["per_file"]
        print(path)
        for half, names in halves.items():
            names = [n for n in names if n in base and n in variant]
            j = judge(base, variant, names)
            s = j["scores"]
            print(f"  {half:4} {s['standard']:5.1f} / {s['reward_low_FP_rate']:5.1f} / {s['reward_low_FN_rate']:5.1f}"
                  f"  gain {j['gain']:+5.2f}  windows {j['windows']}/{j['windows_total']}  FP {j['false_positives']:3}"
                  f"  worst category {j['worst_category'][0]} {j['worst_category'][1]:+.2f}"
                  f"  leave-one-out min {j['loo_min_raw_gain']:+.2f}"
                  f"  {'ELIGIBLE' if j['eligible'] else 'not eligible'}{', not worse' if j['not_worse'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
