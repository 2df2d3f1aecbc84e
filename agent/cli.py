"""`stad-agent`: run, check-config, listen, evaluate, simulate."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from . import __version__, no_runtime_telemetry
from .arg_types import positive
from .records import shorten
from .typed import ConfigError

EXIT_CONFIG = 2
#: `run`: a source's thread raised (not its input's end). Not 2: the unit's RestartPreventExitStatus=2
#: keeps a config problem from restarting, and this one a restart may well mend (agent/service.py).
EXIT_SOURCE_FAILED = 3

# Subcommands that live in their own modules: name -> module with add_parser(sub) and run(args).
PLUGGED = {
    "listen": "agent.listen",
    "evaluate": "agent.evaluate",
    "simulate": "agent.simulate_csv",
    "record": "agent.record",
}


# Libraries whose log says again, as an ERROR, what the agent says itself in its own words and once
# per outage: pymodbus logs every failed connect to the PLC as `ERROR pymodbus.logging: Connection to
# (…) failed` and then `ERROR … Repeating....`, beside the Modbus source's own `modbus H:P unreachable
# (refused the connection …); retrying …` WARNING — an integrator read them as a second, unexplained failure
# (user6). Shown with --log-level debug.
QUIETED = ("pymodbus",)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.CRITICAL)


def load_config(path: str, machine: bool = True, notes: list | None = None, read_only: list | None = None):
    """The config, checked as `run` needs it (file, keys, and with `machine` what it names on
    this machine); None after printing every problem with the file and key path. Its notes are printed, or put
    into `notes` when given (`run`: agent/start_notes.py).
    A path on a read-only file system (the state directory, a sink's file), when that is the only kind of problem,
    is no refusal (preflight.degraded): its lines go into `read_only` (`run` starts degraded on them, review42:
    agent/read_only_state.py; check-config says them, qa49)."""
    from . import config, preflight
    loaded = False
    try:
        cfg = config.load(path)
        loaded = True
        found, said = preflight.check(cfg) if machine else ([], [])
        found, on_read_only = preflight.degraded(found)
        if read_only is not None:
            read_only += on_read_only
        if found:
            raise ConfigError(path, found)
        if notes is not None:
            notes += said
        else:
            for note in said:
                print(f"{path}: note: {shorten(note, 400)}", file=sys.stderr)
        return cfg
    except ConfigError as exc:
        for p in exc.problems:
            print(f"{exc.source}: {shorten(p, 400)}", file=sys.stderr)
        if machine and not loaded:
            # The machine checks need a valid config: say that more may follow, rather than let a
            # fixed file meet a second round of problems (a missing CA file, an unset secret) unwarned.
            print(f"{exc.source}: note: the files, secrets, addresses and extras it names on this machine are "
                  "checked once these are fixed", file=sys.stderr)
        print(f"{exc.source}: {len(exc.problems)} problem(s); nothing started", file=sys.stderr)
        return None


def cmd_check_config(args) -> int:
    if args.root:                   # a staged install (systemd/install.sh --root): its paths, not this machine's
        from pathlib import Path

        from .paths import read_under
        if not Path(args.root).is_dir():    # a typo's tree: every path creatable under it, and "ok" (qa49)
            print(f"check-config: --root {args.root}: not a directory here (the staged tree's top, as install.sh "
                  "--root was given it)", file=sys.stderr)
            return EXIT_CONFIG
        read_under(args.root)
    read_only: list[str] = []
    cfg = load_config(args.config, machine=not args.static, read_only=read_only)
    if cfg is None:
        return EXIT_CONFIG
    # Not refused: `run` starts on them, degraded (a gateway whose disk was remounted read-only keeps publishing);
    # said, so that a person running check-config mends the mount (qa49: check-config refused what run took).
    for line in read_only:
        print(f"{args.config}: degraded: {shorten(line, 400)}", file=sys.stderr)
    degraded = (f"; run starts degraded on the {len(read_only)} read-only path(s) above (what it cannot write is "
                "held in memory or dropped and counted until the mount is writable)" if read_only else "")
    print(f"{args.config}: ok — {len(cfg.sensor_names())} sensors, {len(cfg.sources)} source(s), "
          f"tick {cfg.tick_s:g}s, window {cfg.window.steps} ticks, chain {' → '.join(cfg.scoring.chain)}{degraded}")
    return 0


def cmd_run(args) -> int:
    from .start_notes import StartNotes
    notes: list[str] = []
    read_only: list[str] = []
    cfg = load_config(args.config, notes=notes, read_only=read_only)
    if cfg is None:
        return EXIT_CONFIG
    start_notes = StartNotes(args.config, notes, cfg.resolve(cfg.state_dir))
    start_notes.say()           # in full at a first start, one line at a restart with the same ones
    setup_logging(args.log_level or cfg.log_level)
    from .service import Agent
    from .stop_summary import format_summary
    # The handlers go in before the agent is built: building it connects the sinks (the MQTT status
    # says `online` from then on) and loads the model, and a SIGINT / SIGTERM in that time must
    # stop the agent cleanly once it is built, not kill it half-way with a KeyboardInterrupt.
    requested: list[str] = []
    built: list = []

    def on_signal(signum, frame) -> None:
        reason = f"signal {signal.Signals(signum).name}"
        if built:
            built[0].stop(reason)
        else:
            requested.append(reason)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        agent = Agent(cfg, max_ticks=args.max_ticks, config_path=args.config, stopping=lambda: bool(requested),
                      read_only=read_only)
    except (ValueError, OSError) as exc:
        logging.getLogger("stad.agent").error("cannot start: %s", exc)
        return 1
    built.append(agent)
    start_notes.keep()
    if requested:
        logging.getLogger("stad.agent").warning("%s while starting: stopping now", requested[0])
        agent.stop(requested[0])
    summary = agent.run()
    print(format_summary(summary), file=sys.stderr, flush=True)
    return EXIT_SOURCE_FAILED if summary["source_failures"] else 0


def reader_gone() -> None:
    """After stdout's reader went away (`listen | head -1`, `inspect --json | head`): stdout to /dev/null, so
    that neither what is left to print nor the interpreter's flush at exit raises BrokenPipeError again. The
    command then ends as it would have, exit 0, no traceback (evaluate since the fleet round; listen and
    `stad-convert inspect` since qa37)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`: $COLUMNS, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, given the width argparse would find itself: for it, argparse imports shutil
    on every parser built (with the bz2, lzma and zlib modules shutil loads: ~0.5 MiB resident
    for the whole run of a daemon that never prints help)."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """ArgumentParser with HelpFormatter; its subparsers are Parsers too (argparse makes them of
    the parent's class)."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


class BuildVersion(argparse.Action):
    """`--version`: the version and the build (agent/build_id.py: every build says 0.1.0), read only when asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .build_id import build
        print(f"stad-edge {__version__} (build {build()})")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; a plugged subcommand's module is imported only when `command` is it or None
    (top-level help): `run` must not load paho (listen) or the evaluation code."""
    p = Parser(prog="stad-agent", description="Spatio-temporal anomaly detection on the gateway.",
               epilog="Exit status: 0 done (run: stopped or its input ended), 1 it could not start (run: "
                      "e.g. another agent holds state_dir), 2 a config or argument problem (nothing "
                      "started), 3 (run) a source failed while running: the agent stopped, its open alerts "
                      "kept for the next start. Each command's --help says more.")
    p.add_argument("--version", action=BuildVersion, nargs=0, help="show the version and build, and exit")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent until stopped or the input ends",
                         description="Run the agent until SIGINT / SIGTERM or the end of its input. The config "
                                     "is checked first as check-config does: exit 2 and one line per problem. "
                                     "Logs go to stderr, alert lines to stdout (the `terminal` sink: there "
                                     "when the config has no `sinks`, else only when listed in them), a "
                                     "summary line to stderr at the end.")
    run.add_argument("-c", "--config", required=True, help="the agent config (YAML)")
    run.add_argument("--max-ticks", type=positive(int), default=None, help="stop after this many ticks")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=None,
                     help="default: the config's log_level")
    run.set_defaults(func=cmd_run)

    chk = sub.add_parser("check-config", help="validate a config file and exit (2 on problems)",
                         description="Check a config as `run` would before it starts anything: exit 0 "
                                     "(`note:` lines for what this shell cannot check), or exit 2 with one "
                                     "line per problem naming the file and key path.")
    chk.add_argument("-c", "--config", required=True, help="the agent config (YAML)")
    chk.add_argument("--static", action="store_true",
                     help="check the file only, not the files, secrets, addresses and extras it needs on this "
                          "machine (for a config meant for another host)")
    chk.add_argument("--root", metavar="DIR",
                     help="check a config installed below DIR (systemd/install.sh --root DIR): every absolute path it "
                          "names, and the credential stores, read under DIR")
    chk.set_defaults(func=cmd_check_config)

    for name, module_name in PLUGGED.items():
        if command is not None and command != name:
            sub.add_parser(name, help=f"see stad-agent {name} --help")
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            unavailable = sub.add_parser(name, help=f"(unavailable: {exc})")
            unavailable.set_defaults(func=lambda args, e=exc: _unavailable(e))
            continue
        module.add_parser(sub)
    return p


def _unavailable(exc: Exception) -> int:
    print(f"this command is unavailable: {exc}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    no_runtime_telemetry()
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in PLUGGED or command in ("run", "check-config") else None).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
