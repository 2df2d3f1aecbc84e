"""stad-convert: train, export, verify and inspect model bundles for the stad-edge agent.

    stad-convert train -c configs/demo.yaml -o bundles/corridor [--days 6] [--epochs 30] [--only onnx_fp32]
    stad-convert export BUNDLE [--only onnx_fp32,tflite_int8] [--tflite-int8-recipes R1,R2] [--tar]
    stad-convert verify BUNDLE [--min-agreement 0.99] [--record]
    stad-convert inspect BUNDLE [--json]
    stad-convert keygen NAME                       # NAME.pem (private, 0600) and NAME.pub.pem
    stad-convert sign BUNDLE --key NAME.pem        # manifest.sig: last, after every other step
    stad-convert build-demo [--out agent/models/demo-corridor] [--sim-seed S ...] [--ema-decay D]

Exit status: 0 success, 1 verification failed or the bundle is unusable, 2 bad arguments/config
or the `convert` extra (torch, onnx, litert-torch) not installed, 130 interrupted (Ctrl-C: one
line saying where it stopped and what finishes the job; training does not resume). `--help` and `inspect` need no
torch: they work on a gateway. `train` reads and checks its data before importing torch (~2 CPU-s), so what cannot
train is refused at once (convert/data_checks.py).
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import sys
from pathlib import Path


# What `pip install "stad-edge[convert]"` adds; train, export, verify and build-demo need them.
CONVERT_EXTRA = {"torch", "onnx", "onnxruntime", "onnxscript", "ai_edge_litert", "litert_torch"}
NEEDS_EXTRA = {"train", "export", "verify", "build-demo"}


def missing_extra(exc: ModuleNotFoundError, command: str) -> str:
    return (f"stad-convert {command} needs the `convert` extra ({exc.name} is not installed): "
            f"pip install \"stad-edge[convert]\" (or, in a checkout: pip install -e \".[convert]\")")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from .train_options import TrainOptions      # no torch: the defaults show on a gateway too
    d = TrainOptions()
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--patience", type=int, default=d.patience, help="epochs without improvement before stopping")
    p.add_argument("--d-model", type=int, default=d.d_model)
    p.add_argument("--heads", type=int, default=d.heads)
    p.add_argument("--ff-hidden", type=int, default=d.ff_hidden)
    p.add_argument("--windows-per-epoch", type=int, default=d.windows_per_epoch,
                   help="random training windows per epoch (0: all)")
    p.add_argument("--seed", type=int, default=d.seed, help="training seed (weights init, batch order)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (fixed for reproducibility)")
    p.add_argument("--ema-decay", type=float, default=d.ema_decay,
                   help="> 0: validate, keep and ship an exponential moving average of the weights "
                        "(per step; e.g. 0.99)")
    p.add_argument("--members", type=int, default=d.members,
                   help="> 1: train that many forecasters (seeds SEED, SEED+1, ...) and ship their mean "
                        "as one model (K× the training time and the per-tick inference cost)")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def _train_options(args):
    from .train_options import TrainOptions
    return TrainOptions(d_model=args.d_model, heads=args.heads, ff_hidden=args.ff_hidden, epochs=args.epochs,
                        batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed,
                        windows_per_epoch=args.windows_per_epoch or None, threads=args.threads,
                        ema_decay=args.ema_decay, members=args.members, progress=not args.quiet)


def _share(text: str) -> float:
    """--min-agreement: a share of windows, 0..1 (above 1 no bundle could ever pass)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1], got {text}")
    return value


#: --days' bound: a year of simulated time (the simulator's records are held in memory while the series is built;
#: 1e300 filled the machine's memory, qa37).
MAX_DAYS = 366.0


def _days(text: str) -> float:
    """--days: simulated days, a positive number up to MAX_DAYS (nan was a traceback; 0 and -1 'no rows')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= MAX_DAYS):
        raise argparse.ArgumentTypeError(f"expected a number of days above 0 and at most {MAX_DAYS:g}, got {text}")
    return value


def _kinds(text: str) -> list[str]:
    """--only: comma-separated artifact kinds, each one the bundle format knows."""
    from agent.bundle import ARTIFACT_KINDS
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ARTIFACT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown artifact kind(s) {', '.join(unknown) or '(none given)'} "
                                         f"(known: {', '.join(ARTIFACT_KINDS)})")
    return kinds


def _recipes(text: str) -> tuple[str, ...]:
    """--tflite-int8-recipes: comma-separated TFLite int8 candidates, each one `export` knows."""
    from .bundle_files import TFLITE_INT8_RECIPES
    recipes = tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    unknown = [r for r in recipes if r not in TFLITE_INT8_RECIPES]
    if unknown or not recipes:
        raise argparse.ArgumentTypeError(f"unknown TFLite int8 recipe(s) {', '.join(unknown) or '(none given)'} "
                                         f"(known: {', '.join(TFLITE_INT8_RECIPES)})")
    return recipes


def _add_recipes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tflite-int8-recipes", type=_recipes, metavar="RECIPES",
                   help="the TFLite int8 candidates to build, comma-separated (default: all three: "
                        "weight_only_int8_per_channel, dynamic_range_int8_per_channel, "
                        "static_int8_per_channel_minmax); the most accurate against PyTorch is kept. Each is a "
                        "conversion of its own, most of the int8 export's time: a bundle's manifest says how each "
                        "did (artifacts.tflite_int8.quantization.candidates)")


def _add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also show the third-party libraries' notices (C++ INFO lines, deprecations, progress "
                        "bars) that are hidden by default; their warnings and errors are always shown")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stad-convert", description=__doc__.split("\n")[0],
        epilog="Exit status: 0 success; 1 verification failed (train and verify: an int8 artifact's alert "
               "agreement under --min-agreement, the bundle is still written) or the bundle is unusable; 2 bad "
               "arguments or config, too little usable data, or the `convert` extra not installed; 130 "
               "interrupted.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on normal data from the config's sources and write a bundle")
    p.add_argument("-c", "--config", required=True, help="agent config YAML (sensors, tick, window, sources)")
    p.add_argument("-o", "--out", required=True,
                   help="bundle directory to write: new, empty, or holding a bundle (replaced whole once training "
                        "succeeds); one holding other files is refused")
    p.add_argument("--model-id", help="default: the output directory's name")
    p.add_argument("--days", type=_days, default=6.0,
                   help=f"simulated days of training data (simulate sources; at most {MAX_DAYS:g})")
    p.add_argument("--sim-seed", type=int, default=1001, help="simulator seed for training data")
    p.add_argument("--keep-anomalies", action="store_true",
                   help="keep the simulator's anomalies (labelled rows are still never training targets)")
    p.add_argument("--split", choices=("auto", "time", "recording"), default="auto",
                   help="train | validation | test: 'time' splits each recording 70/15/15 by time; 'recording' "
                        "keeps the newest recording whole for test and the one before it for validation (every "
                        "hour of a day in each); 'auto' (default): by recording when there are 4 or more "
                        "recordings of a day or longer each (one file per day), else by time")
    p.add_argument("--steps", type=int, help="override window.steps (T)")
    exported = p.add_mutually_exclusive_group()
    exported.add_argument("--no-export", action="store_true", help="write the PyTorch bundle only")
    exported.add_argument("--only", type=_kinds, help="export these kinds only (comma-separated: onnx_fp32,onnx_int8,"
                                                      "tflite_fp32,tflite_int8; default: all four); `stad-convert "
                                                      "export` adds the others later")
    p.add_argument("--min-agreement", type=_share, default=0.99,
                   help="the verify after export fails (exit 1; the bundle is written all the same) when an int8 "
                        "artifact's alert agreement is below this share (default: 0.99)")
    p.add_argument("--tar", action="store_true", help="also write BUNDLE.tar")
    _add_recipes(p)
    _add_train_options(p)
    _add_verbose(p)

    p = sub.add_parser("export", help="export a trained bundle to ONNX and TFLite (fp32 and int8)")
    p.add_argument("bundle")
    p.add_argument("--only", type=_kinds, help="comma-separated kinds: onnx_fp32,onnx_int8,tflite_fp32,tflite_int8")
    p.add_argument("--tar", action="store_true", help="also write BUNDLE.tar")
    _add_recipes(p)
    _add_verbose(p)

    p = sub.add_parser("verify", help="check every artifact against PyTorch on held-out windows (read-only)")
    p.add_argument("bundle")
    p.add_argument("--min-agreement", type=_share, default=0.99,
                   help="fail (exit 1) when an int8 artifact's alert agreement is below this share (0..1)")
    p.add_argument("--record", action="store_true",
                   help="also record the measured figures in manifest.json (rewrites it; sign the bundle after)")
    _add_verbose(p)

    p = sub.add_parser("inspect", help="print a bundle's manifest readably")
    p.add_argument("bundle")
    p.add_argument("--json", action="store_true", help="the raw manifest")
    p.add_argument("--no-hash-check", action="store_true",
                   help="do not check the files' sha256 against the manifest (a damaged bundle still prints)")

    p = sub.add_parser("keygen", help="make an Ed25519 key pair for signing bundles (needs the signing extra)")
    p.add_argument("name", help="writes NAME.pem (private, mode 0600) and NAME.pub.pem (for scoring.bundle_keys)")

    p = sub.add_parser("sign", help="sign a bundle's manifest with an Ed25519 private key (writes manifest.sig)")
    p.add_argument("bundle")
    p.add_argument("--key", required=True, help="the private key, PEM (stad-convert keygen, or openssl genpkey "
                                               "-algorithm ed25519)")

    p = sub.add_parser("build-demo", help="train and export the demo bundle shipped with the agent")
    p.add_argument("--config", default=None, help="default: configs/demo.yaml of this checkout")
    p.add_argument("--out", default=None, help="default: agent/models/demo-corridor")
    p.add_argument("--variable-days", action="store_true",
                   help="train on days that differ like a real corridor's (the simulator's VARIABLE_DAYS)")
    p.add_argument("--sim-seed", type=int, nargs="+", default=None, metavar="SEED",
                   help="simulator seed(s) for the training data, each its own 6 days and segment, each given once "
                        "(a seed twice is refused: its days would be training and held-out both; default: the "
                        "shipped bundle's)")
    p.add_argument("--ema-decay", type=float, default=None,
                   help="> 0: ship an exponential moving average of the weights (default: the shipped bundle's)")
    p.add_argument("--quiet", action="store_true")
    _add_verbose(p)
    return parser


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


INTERRUPTED = 130      # the shell's code for a command stopped by SIGINT
# The line before the keys a successful train prints for the gateway's config (convert/data.py gateway_keys)
GATEWAY_KEYS = ("to score with it, set in the gateway's config (paths as on this machine: change them to where "
                "the gateway keeps the bundle and the recordings):")


def cmd_train(args) -> int:
    import dataclasses
    from agent.config import WindowConfig, load
    from agent.typed import build
    cfg = load(args.config)
    if args.steps is not None:          # checked by window.steps' own rule (a ConfigError: exit 2)
        cfg.window = build(WindowConfig, {**dataclasses.asdict(cfg.window), "steps": args.steps},
                           "--steps (window.steps)")
    options = _train_options(args)
    problems = options.problems()
    if problems:                        # before any data is read, and before torch is imported
        for problem in problems:
            print(f"stad-convert train: {problem}", file=sys.stderr)
        return 2
    if importlib.util.find_spec("torch") is None:     # the extra missing: said before any data is read
        raise ModuleNotFoundError("No module named 'torch'", name="torch")
    from .bundle_files import HOLDOUT_WINDOWS, check_out_dir
    from .data import TrainingError, gateway_keys, read_series, training_sources
    from .data_checks import calm_holdout_runs, checked_windows
    out = Path(args.out)
    try:
        replacing = check_out_dir(out)
    except TrainingError as exc:        # before any data is read
        print(f"stad-convert train: {exc}", file=sys.stderr)
        return 2
    if replacing:
        _log(replacing)
    anomalies = "keep" if args.keep_anomalies else "none"
    try:
        # The data read and checked before torch is imported (~2 CPU-s): what cannot train is refused at once.
        series = read_series(cfg, training_sources(cfg, days=args.days, seed=args.sim_seed, anomalies=anomalies),
                             split=args.split)
        calm_holdout_runs(series, cfg.window.steps, HOLDOUT_WINDOWS)
        checked_windows(series, cfg.window.steps)
        import torch  # noqa: F401 — the `convert` extra, named by main() when it is missing
        from .pipeline import DataOptions, export_bundle, train_bundle
        data = DataOptions(days=args.days, seed=args.sim_seed, anomalies=anomalies, split=args.split)
        result, manifest = train_bundle(cfg, out, options, data, model_id=args.model_id or out.resolve().name,
                                        series=series)
    except TrainingError as exc:
        print(f"stad-convert train: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        print(out_of_memory_line(exc, options), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _log(f"stad-convert train: interrupted while training; training does not resume: run it again "
             f"(a bundle already in {out} is left as it was, unless the stop came as it was being written)")
        return INTERRUPTED
    from .show import data_lines
    from .train import summary_text
    from .verify import verify_and_report
    print(summary_text(result.summary, result.threshold, cfg.tick_s))
    print("\n".join(data_lines(manifest.data, cfg.tick_s)))
    if args.no_export:
        return 0
    try:
        export_bundle(out, kinds=args.only, log=_log, tflite_int8_recipes=args.tflite_int8_recipes)
    except KeyboardInterrupt:
        _log(f"stad-convert train: interrupted while exporting; {out} holds the trained model without every "
             f"artifact: `stad-convert export {out}` then `stad-convert verify --record {out}` finish it")
        return INTERRUPTED
    try:
        status = verify_and_report(out, args.min_agreement, tar=args.tar, record=True, log=_log)
    except KeyboardInterrupt:
        _log(f"stad-convert train: interrupted while verifying; {out} is exported: "
             f"`stad-convert verify --record {out}` records its parity")
        return INTERRUPTED
    from .verify import usable_after_failure
    if status == 0 or (status == 1 and (out / "manifest.json").is_file() and usable_after_failure(out)):
        print(f"{GATEWAY_KEYS}\n{gateway_keys(cfg, out)}")
    return status


def out_of_memory_line(exc: BaseException, options) -> str:
    """What train says when memory ran out: the error's first line (Python's own MemoryError has no text: its
    name then) and the options that set how much it needs."""
    said = (str(exc) or type(exc).__name__).splitlines()[0][:200]
    return (f"stad-convert train: out of memory ({said}): less data (--days, fewer recordings) or a smaller model "
            f"(--d-model {options.d_model}, --ff-hidden {options.ff_hidden}, --batch-size {options.batch_size}, "
            f"--members {options.members})")


def out_of_memory(exc: BaseException) -> bool:
    """A MemoryError (numpy's too), or torch's CPU allocator refusing (a RuntimeError: "can't allocate memory")."""
    return isinstance(exc, MemoryError) or "allocate memory" in str(exc)


def cmd_export(args) -> int:
    from agent.bundle import BundleError, load
    bundle = Path(args.bundle)
    try:
        load(bundle, verify_hashes=False)       # a manifest that cannot load: refused before torch is imported
        from .pipeline import export_bundle
        manifest = export_bundle(bundle, kinds=args.only, log=_log, tflite_int8_recipes=args.tflite_int8_recipes)
    except BundleError as exc:
        _log(f"export failed: {exc}")
        return 1
    for kind, a in manifest.artifacts.items():
        print(f"{kind:<12} {a.file:<20} {a.bytes:>8} B  {(a.quantization or {}).get('recipe', '')}")
    if args.tar:
        from .bundle_writer import write_tar
        write_tar(bundle, bundle.with_suffix(".tar"))
    return 0


def cmd_verify(args) -> int:
    from agent.bundle import BundleError, load
    try:
        load(args.bundle)                       # a bundle that cannot load: refused before torch is imported
    except BundleError as exc:
        _log(f"verify failed: {exc}")           # convert.verify's words for it
        return 1
    from .verify import verify_and_report
    return verify_and_report(Path(args.bundle), args.min_agreement, record=args.record, log=_log)


def cmd_inspect(args) -> int:
    from agent.bundle import BundleError, load
    from .show import describe
    try:
        bundle = load(args.bundle, verify_hashes=not args.no_hash_check)
    except BundleError as exc:
        _log(f"inspect failed: {exc}")
        return 1
    try:
        print(bundle.manifest.to_json().rstrip("\n") if args.json else describe(bundle), flush=True)
    except BrokenPipeError:         # `inspect --json B | head`: the reader took what it wanted (qa37: a traceback)
        from agent.cli import reader_gone
        reader_gone()
    return 0


def cmd_keygen(args) -> int:
    from agent.signing import SigningError, generate_keypair
    private, public = Path(args.name + ".pem"), Path(args.name + ".pub.pem")
    try:
        generate_keypair(private, public)
    except SigningError as exc:
        _log(f"keygen failed: {exc}")
        return 1
    print(f"wrote {private} (private: keep it on this workstation) and {public} (for scoring.bundle_keys)")
    return 0


def cmd_sign(args) -> int:
    from agent.bundle import BundleError, load
    from agent.signing import SigningError, sign_manifest
    try:
        bundle = load(args.bundle)              # only a bundle whose files match its manifest is signed
        out = sign_manifest(bundle.path, args.key)
    except (BundleError, SigningError) as exc:
        _log(f"sign failed: {exc}")
        return 1
    print(f"wrote {out}: {bundle.model_id} signed; every later change to the bundle needs a new signature")
    return 0


def cmd_build_demo(args) -> int:
    from .build_demo import DEMO_EMA_DECAY, DEMO_SIM_SEEDS, build_demo
    return build_demo(config=args.config, out=args.out, progress=not args.quiet, variable_days=args.variable_days,
                      sim_seeds=args.sim_seed or DEMO_SIM_SEEDS,
                      ema_decay=DEMO_EMA_DECAY if args.ema_decay is None else args.ema_decay)


COMMANDS = {"train": cmd_train, "export": cmd_export, "verify": cmd_verify, "inspect": cmd_inspect,
            "keygen": cmd_keygen, "sign": cmd_sign, "build-demo": cmd_build_demo}


def _setup_logging(verbose: bool) -> None:
    """The converter's own records (and, with --verbose, the third-party notices convert/quiet.py
    hides) go to stderr as plain lines; third-party loggers are left as they are."""
    logger = logging.getLogger("stad.convert")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    from agent import no_runtime_telemetry
    no_runtime_telemetry()
    args = _parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", False))
    from agent.typed import ConfigError
    try:
        if args.command in NEEDS_EXTRA - {"train"} and importlib.util.find_spec("torch") is None:
            # named here, not deep in a traceback (train names it once its arguments are checked); looked up, not
            # imported: export and verify refuse a bundle that cannot load before importing it (~2 CPU-s)
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        _log(str(exc))
        return 2
    except ModuleNotFoundError as exc:
        if exc.name not in CONVERT_EXTRA:
            raise
        _log(missing_extra(exc, args.command))
        return 2
    except KeyboardInterrupt:       # Ctrl-C: one line, not a traceback (train says where it stopped)
        _log(f"stad-convert {args.command}: interrupted")
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
