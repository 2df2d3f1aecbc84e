"""`stad-agent evaluate`: honest accuracy on labelled data.

    stad-agent evaluate -c CONFIG --data PATH [--bundle DIR] [--scorer NAME ...]
                        [--feedback-delay S] [--report OUT.json] [--plot DIR]

Replays labelled data through the daemon's Pipeline, prints a table of point-wise, SKAB,
event-level and NAB metrics per scorer next to trivial baselines, and optionally writes a
JSON report (+ a Markdown summary beside it) and figures. The bundle is --bundle (a directory or
builtin:NAME), else the config's scoring.bundle; an endless simulate source is evaluated up to an
hour past its last configured anomaly. The config's warmup.replay is not used (said on stderr): the
protocol's training part of each file is the warm-up, so the figures stay within one file's time. --feedback-delay S replays the labels as operator
feedback S seconds after each alert (feedback_replay.py). Exit 1 when a scorer named with --scorer could not run.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from .report import format_table, summary_path
from .runner import evaluate

EXIT_CONFIG = 2


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="measure accuracy on labelled data (replayed through the agent)")
    p.add_argument("-c", "--config", required=True, help="agent config with a replay or simulate source")
    p.add_argument("--data", default=None, help="labelled file or directory (default: the source's path)")
    p.add_argument("--bundle", default=None, help="model bundle directory or builtin:NAME (default: the config's scoring.bundle): "
                        "adds its runtimes as scorers")
    p.add_argument("--scorer", action="append", default=None, dest="scorers",
                   help="numpy, tflite, onnx, random, rolling_z, always (repeatable; default: all available)")
    p.add_argument("--protocol", choices=["skab", "nab", "warmup"], default=None,
                   help="train/score split (default: from the source: SKAB/NAB layout, else warm-up)")
    p.add_argument("--tolerance-s", type=float, default=None,
                   help="an alert this long after an event's end still detects it (default: clear_ticks × tick)")
    p.add_argument("--feedback-delay", type=float, default=None, metavar="S", dest="feedback_delay",
                   help="also run each agent scorer with the labels replayed as operator feedback S seconds after "
                        "each alert (false_alarm outside labelled events, confirmed inside), through the daemon's "
                        "feedback code; reports false alarms per day by tenth of the scored span")
    p.add_argument("--report", type=_report_path, default=None,
                   help="write the JSON report here (and a .md summary beside it)")
    p.add_argument("--plot", default=None, help="write figures to this directory (needs matplotlib)")
    p.set_defaults(func=run)


def _report_path(text: str) -> str:
    """--report: a path its Markdown summary, written beside it, does not replace (report.summary_path)."""
    import argparse
    try:
        summary_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run(args) -> int:
    from ..cli import load_config, reader_gone
    cfg = load_config(args.config, machine=False)     # replays its own data: sinks, secrets, state are not used
    if cfg is None:
        return EXIT_CONFIG
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    from .plots import PlotUnavailable
    from ..sources.replay_labels import LabelsError
    from ..sources.replay import ReplayConfig
    from ..sources.simulate import SimulateConfig
    if not any(isinstance(s, (ReplayConfig, SimulateConfig)) for s in cfg.sources):
        from .labelled import replay_hint
        print(f"{args.config}: sources: {replay_hint(cfg, args.data)}", file=sys.stderr)
        return EXIT_CONFIG
    if cfg.warmup.replay:       # the protocol splits every file itself: said, so the figures are not taken for run's
        print(f"evaluate: warmup.replay ({cfg.warmup.replay}) is not used: every file warms up on its own "
              "training part (the protocol on the table's first line), as `run` would without warmup.replay; "
              "`run` with this config warms up on the recording instead", file=sys.stderr)
    try:
        report = evaluate(cfg, args.data, bundle=args.bundle, scorers=args.scorers, report_path=args.report,
                          plot_dir=args.plot, protocol=args.protocol, tolerance_s=args.tolerance_s,
                          config_path=args.config, feedback_delay_s=args.feedback_delay)
    except PlotUnavailable as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    except LabelsError as exc:                       # the config's labels_file: refused as check-config does
        where = next((f"sources[{i}].labels_file" for i, src in enumerate(cfg.sources)
                      if getattr(src, "labels_file", None)), "labels_file")
        print(f"{args.config}: {where}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (ValueError, FileNotFoundError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    try:
        print(format_table(report), flush=True)
    except BrokenPipeError:         # `evaluate | head`: the reader took what it wanted; no traceback, now or at exit
        reader_gone()
    if args.report:
        print(f"report: {args.report} (summary: {summary_path(args.report)})", file=sys.stderr)
    if args.plot:
        print(f"figures: {len(report.get('plots') or [])} written to {Path(args.plot).resolve()}", file=sys.stderr)
    failed = {s: e for s, e in report["errors"].items() if args.scorers and s in args.scorers}
    for scorer, error in failed.items():
        print(f"evaluate: scorer {scorer} failed: {error}", file=sys.stderr)
    return 1 if failed else 0


__all__ = ["add_parser", "run", "evaluate"]
