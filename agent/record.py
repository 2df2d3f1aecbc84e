"""`stad-agent record`: a gateway config's live source written out as JSON-lines recordings, one file per UTC day.

Why: the converter trains on recordings of normal running, and `warmup.replay` warms up on them, but a plant whose
only history is its live feed — a roadside unit whose loop detectors publish on a local MQTT broker — had no way to
keep a day of it (user33 guessed `mosquitto_sub -F %p`, which works only when each payload carries its time and its
sensors' own names; a topic mapped to one sensor, or a name pattern `K012_*`, leaves the sensor in the topic). This
reads the source through the agent's own code, with the config's broker, TLS, login and topic mapping, and writes
each record as the agent took it: `{"ts": "2026-12-07T08:00:00.000Z", "values": {"K012_flow": 562.4, …}}`, the
shape the `replay` source (and so `stad-convert train` and `warmup.replay`) reads back. Files are named
`YYYY-MM-DD.jsonl` (name order is time order, as `warmup.replay` reads them) and appended to, so a recording stopped
and started again goes on in the day's file.

    stad-agent record -c /etc/stad-edge/agent.yaml -o recordings/ [--hours 24]
"""
from __future__ import annotations

import datetime as dt
import json
import math
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

from .arg_types import positive
from .simulate_csv import DAY_S, stamp
from .whole_lines import cut_partial_tail

EXIT_CONFIG = 2


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "record", help="write a config's live source to JSON-lines recordings (one file per UTC day), for training",
        description="Read the config's live source (mqtt, udp, modbus, opcua) as `run` reads it — its broker, "
                    "login, TLS and topic or register mapping — and append each record to OUT/YYYY-MM-DD.jsonl as "
                    "{\"ts\": …, \"values\": {sensor: value}}: the recordings `stad-convert train` and "
                    "`warmup.replay` read (a `replay` source's path, or warmup.replay, set to OUT). Nothing is "
                    "scored and no sink is used. Stops at Ctrl-C / SIGTERM or after --hours.",
        epilog="Exit status: 0 stopped (a summary line says what was written); 1 nothing was recorded; 2 a config "
               "or argument problem, or no live source.")
    p.add_argument("-c", "--config", required=True, help="the gateway's agent config")
    p.add_argument("-o", "--out", required=True, help="the folder the .jsonl files go into (made if missing)")
    p.add_argument("--hours", type=positive(float), default=None, help="stop after this long (default: at Ctrl-C)")
    p.add_argument("--source", type=int, default=None,
                   help="which of `sources` to read, by index (default: the only live one)")
    p.set_defaults(func=run)


class DayFiles:
    """The open recording of each UTC day, appended to; what went into each."""

    def __init__(self, out: Path):
        self.out = out
        self.day: int | None = None
        self.handle = None
        self.lines: Counter = Counter()       # file name -> records written this run

    def write(self, ts: float, values: dict[str, float]) -> None:
        today = math.floor(ts / DAY_S)
        if today != self.day:
            self.close()
            self.day = today
            name = f"{dt.datetime.fromtimestamp(today * DAY_S, dt.timezone.utc):%Y-%m-%d}.jsonl"
            self.handle = (self.out / name).open("a", encoding="utf-8")
            cut = cut_partial_tail(self.out / name, self.handle.fileno())
            if cut:     # (a power cut mid-line: the next record glued to it was lost with it; chaos9)
                print(f"record: {self.out / name}: removed an incomplete last line ({cut} bytes) left by an earlier "
                      "run (a power cut?)", file=sys.stderr)
        self.handle.write(json.dumps({"ts": stamp(ts, "milliseconds"), "values": values}) + "\n")
        self.handle.flush()     # a kill -9 keeps every whole line; a power cut the lines on disk, its last one cut
        self.lines[self.handle.name] += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _live_index(sources: list, chosen: int | None, path: str) -> int | None:
    """The index of the live source to record: `chosen`, or the only one; None after saying why not."""
    live = [i for i, src in enumerate(sources) if getattr(src, "endless", False)]
    if chosen is not None:
        if chosen in live:
            return chosen
        print(f"{path}: sources[{chosen}]: not a live source of this config (its live ones: "
              f"{', '.join(f'sources[{i}]' for i in live) or 'none'})", file=sys.stderr)
        return None
    if len(live) == 1:
        return live[0]
    print(f"{path}: sources: " + ("no live source to record (a replay or simulate source is a recording already: "
                                  "`stad-agent simulate` writes a simulator's)" if not live else
                                  f"{len(live)} live sources: say which with --source "
                                  f"({', '.join(str(i) for i in live)})"), file=sys.stderr)
    return None


def run(args) -> int:
    from .cli import load_config, setup_logging
    from .records import Rejects
    from .sources import SourceUnavailable, open_source
    notes: list = []
    cfg = load_config(args.config, machine=True, notes=notes)   # its broker's files and secrets are used
    if cfg is None:
        return EXIT_CONFIG
    for note in notes:          # the source's own (the credentials this user could not check): not run's state, …
        if str(note).startswith("sources["):
            print(f"{args.config}: note: {note}", file=sys.stderr)
    index = _live_index(cfg.sources, args.source, args.config)
    if index is None:
        return EXIT_CONFIG
    setup_logging(cfg.log_level)
    sensors = cfg.sensor_names()
    known = set(sensors)
    rejects = Rejects()
    src_cfg = cfg.sources[index]
    try:
        source = open_source(src_cfg, sensors, rejects, base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    except SourceUnavailable as exc:
        print(f"{args.config}: sources[{index}]: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def stopping(*_):
        stop.set()
        source.close()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stopping)
    if args.hours is not None:
        timer = threading.Timer(args.hours * 3600, stopping)
        timer.daemon = True
        timer.start()
    until = f"for {args.hours:g} h" if args.hours is not None else "until Ctrl-C (SIGINT) or SIGTERM"
    print(f"record: sources[{index}] ({src_cfg.label()}) into {out}/YYYY-MM-DD.jsonl (appended), {until}",
          file=sys.stderr)
    files = DayFiles(out)
    unknown: Counter = Counter()
    not_finite = 0
    try:
        for rec in source.records():
            values = {}
            for name, value in rec.values.items():
                if name not in known:
                    unknown[name] += 1
                elif not math.isfinite(value):
                    not_finite += 1
                else:
                    values[name] = value
            if values:
                files.write(rec.ts, values)
            if stop.is_set():
                break
    finally:
        files.close()
        source.close()
    written = sum(files.lines.values())
    said = [f"{n:,} record(s) into {Path(name).name}" for name, n in files.lines.items()] or ["nothing written"]
    if rejects.total:
        said.append(f"rejected by the source {rejects.total:,} (" +
                    ", ".join(f"{r}: {n}" for r, n in sorted(rejects.as_dict().items())) + ")")
    if unknown:
        said.append("readings of names not in `sensors` left out: " +
                    ", ".join(f"{name} ×{n}" for name, n in unknown.most_common(5)) +
                    (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    if not_finite:
        said.append(f"{not_finite} reading(s) not finite left out")
    print("record: " + "; ".join(said) + (f"; train on them: a `replay` source with `path: {out}`" if written else ""),
          file=sys.stderr)
    return 0 if written else 1


__all__ = ["run", "add_parser", "DayFiles"]
