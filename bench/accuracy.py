"""Accuracy on the shared SKAB and NAB copies, next to the published leaderboards.

    python bench/accuracy.py [--data ../shared/data] [--only skab|nab] [--scorer NAME ...]
                             [--bundle DIR] [--out DIR]

Runs `stad-agent evaluate` (agent.evaluate.evaluate) on the data where it lies — nothing is
copied into the repo. Caveats printed with the numbers:

- SKAB: the leaderboard scores all 34 labelled files (valve2 included); the shared copy has
  30 (no valve2). Same protocol: first 400 rows of every file train, the rest is scored,
  F1/FAR/MAR point-wise over all test rows together.
- NAB: 44 of the 58 files (no realTraffic, realKnownCause), so the score is on a subset and
  not comparable one-to-one with the leaderboard (which also picks its threshold in
  hindsight over the corpus; our "swept" column does the same per category group).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent import config  # noqa: E402
from agent.evaluate import evaluate, nab  # noqa: E402
from agent.evaluate.skab import SKAB_SENSOR_COLUMNS, far_mar_f1  # noqa: E402
from agent.evaluate.metrics import Confusion  # noqa: E402

SKAB_LEADERBOARD = [("Conv-AE", 0.78, 13.55, 28.02), ("MSET", 0.78, 39.73, 14.13),
                    ("T-squared+Q (PCA)", 0.76, 26.62, 24.92), ("Isolation forest", 0.29, 2.56, 82.89),
                    ("Null detector", 0.0, 0.0, 100.0)]
NAB_LEADERBOARD = [("ARTime", 74.9, 65.1, 80.4), ("Numenta HTM (NuPIC v0.5.6)", 70.1, 63.1, 74.3),
                   ("Windowed Gaussian", 39.6, 20.9, 47.4), ("Random (mean of seeds)", 11.0, 1.2, 19.5),
                   ("Null", 0.0, 0.0, 0.0)]
# category -> tick (s): the series' sampling period
NAB_CATEGORIES = {"artificialNoAnomaly": 300, "artificialWithAnomaly": 300, "realAWSCloudwatch": 300,
                  "realTweets": 300, "realAdExchange": 3600}


def skab_config(root: Path, window_steps: int) -> config.AgentConfig:
    return config.from_dict({
        "sensors": list(SKAB_SENSOR_COLUMNS),
        "sources": [{"type": "replay", "path": str(root), "separator": ";", "time_column": "datetime",
                     "label_columns": ["anomaly"]}],
        "tick_s": 1, "topology": "none", "window": {"steps": window_steps, "carry_forward_s": 300},
        "warmup": {"ticks": 400}, "sinks": [],
    }, base_dir=str(root))


def nab_config(category_dir: Path, labels: Path, tick_s: float, window_steps: int) -> config.AgentConfig:
    return config.from_dict({
        "sensors": ["value"],
        "sources": [{"type": "replay", "path": str(category_dir), "labels_file": str(labels)}],
        "tick_s": tick_s, "topology": "none",
        "window": {"steps": window_steps, "carry_forward_s": tick_s * 3},
        "warmup": {"ticks": 300}, "sinks": [],
    }, base_dir=str(category_dir))


def run_skab(root: Path, scorers, bundle, out: Path | None) -> None:
    report = evaluate(skab_config(root, 32), bundle=bundle, scorers=scorers,
                      report_path=str(out / "skab.json") if out else None)
    files = report["files"]
    print(f"\n== SKAB: {len(files)} labelled files (anomaly-free.csv has no labels; valve2 absent: "
          f"leaderboard uses 34 files) — {sum(f['scored_rows'] for f in files)} test rows, "
          f"first 400 rows of each file for training")
    print(f"{'detector':28} {'F1':>6} {'FAR %':>7} {'MAR %':>7} {'AUC-PR':>7} {'events':>7}  source")
    for s in report["scorers"]:
        k, ev = s["skab"], s["events"]
        auc = "–" if s["auc_pr"] is None else f"{s['auc_pr']:.3f}"
        print(f"{s['name']:28} {k['f1']:6.2f} {k['far_pct']:7.2f} {k['mar_pct']:7.2f} {auc:>7} "
              f"{ev['events_detected']:>3}/{ev['events_total']:<3}  this run")
    for name, f1, far, mar in SKAB_LEADERBOARD:
        print(f"{name:28} {f1:6.2f} {far:7.2f} {mar:7.2f} {'':>7} {'':>7}  SKAB leaderboard (34 files)")


def run_nab(root: Path, scorers, bundle, out: Path | None) -> None:
    labels = root / "labels" / "combined_windows.json"
    reports = {}
    for category, tick_s in NAB_CATEGORIES.items():
        folder = root / "data" / category
        if not folder.is_dir():
            continue
        reports[category] = evaluate(nab_config(folder, labels, tick_s, 32), bundle=bundle, scorers=scorers,
                                     report_path=str(out / f"nab_{category}.json") if out else None)
    n_files = sum(len(r["files"]) for r in reports.values())
    names = [s["name"] for s in next(iter(reports.values()))["scorers"]]
    print(f"\n== NAB: {n_files} of 58 files (no realTraffic, realKnownCause) — a SUBSET score, "
          f"not comparable one-to-one with the leaderboard")
    print(f"{'detector':28} {'standard':>9} {'low FP':>7} {'low FN':>7} {'F1':>6}  source")
    for name in names:
        rows = [next(s for s in r["scorers"] if s["name"] == name) for r in reports.values()]
        cells = []
        for profile_name, profile in nab.PROFILES.items():
            parts = [row["nab"][profile_name] for row in rows]
            cells.append(nab.normalised_score(sum(p["raw"] for p in parts), sum(p["windows"] for p in parts),
                                              profile, sum(p["windows_scored"] for p in parts)))
        counts = sum((Confusion(**{k: row["pointwise"][k] for k in ("tp", "fp", "tn", "fn")}) for row in rows),
                     Confusion(0, 0, 0, 0))
        f1 = far_mar_f1(counts)["f1"]
        print(f"{name:28} {cells[0]:9.1f} {cells[1]:7.1f} {cells[2]:7.1f} {f1:6.3f}  this run, at the agent's alerts")
        swept = {c: next(s for s in r["scorers"] if s["name"] == name)["nab"]["standard"]["swept_threshold_score"]
                 for c, r in reports.items()}
        shown = ", ".join(f"{c} {v:.1f}" for c, v in swept.items() if v is not None)
        print(f"{'':28} swept threshold (in hindsight, per category, standard): {shown}")
    for name, std, low_fp, low_fn in NAB_LEADERBOARD:
        print(f"{name:28} {std:9.1f} {low_fp:7.1f} {low_fn:7.1f} {'':>6}  NAB leaderboard (58 files)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--only", choices=["skab", "nab"], default=None)
    p.add_argument("--scorer", action="append", dest="scorers", default=None)
    p.add_argument("--bundle", default=None)
    p.add_argument("--out", default=None, help="write the JSON/Markdown reports here (outside the repo)")
    args = p.parse_args(argv)
    data = Path(args.data).expanduser().resolve()
    out = Path(args.out).resolve() if args.out else None
    if not data.is_dir():
        print(f"no data at {data}: nothing to measure", file=sys.stderr)
        return 1
    if args.only in (None, "skab") and (data / "skab").is_dir():
        run_skab(data / "skab", args.scorers, args.bundle, out)
    if args.only in (None, "nab") and (data / "nab").is_dir():
        run_nab(data / "nab", args.scorers, args.bundle, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
