"""`stad-agent simulate`: a config's `simulate` source written out as CSV recordings, one file per UTC day.

Why: the converter trains on CSV recordings and `warmup.replay` warms up on them, and a newcomer with no
historian export yet (or one who wants to try the whole path — train, verify, deploy — before touching plant
data) had no documented way to get any: user24 and user25 each wrote 20 lines against `Simulation` by hand.
The files are what a historian's export looks like to the agent: `,`-separated, a `timestamp` column (ISO-8601
UTC), one column per sensor named as in `sensors`, an empty cell where the simulator dropped a reading, and an
`anomaly` column (0/1, the simulator's ground truth) for `label_columns` — so `stad-convert train` leaves the
injected anomalies out of training and `stad-agent evaluate` can score on them. Named `YYYY-MM-DD.csv`, the
newest-first order `warmup.replay` reads is their name order.

    stad-agent simulate -c sim.yaml -o recordings/ [--days 7]
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .arg_types import positive

if TYPE_CHECKING:
    from .config import AgentConfig

EXIT_CONFIG = 2
LABEL_COLUMN = "anomaly"
DAY_S = 86400.0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="write a config's simulate source to CSV recordings (one file per UTC day)",
        description="Run the config's `simulate` source unpaced and write what it gives as CSV: a `timestamp` "
                    "column (ISO-8601 UTC), one column per sensor of `sensors` (empty: the simulator dropped "
                    "that reading), and `anomaly` (1 while an injected anomaly lasts), one file per UTC day "
                    "named YYYY-MM-DD.csv — the recordings `stad-convert train` (with `label_columns: "
                    "[anomaly]`) and `warmup.replay` read.",
        epilog="Exit status: 0 written; 2 the config has no simulate source, an endless one without --days, "
               "or a file to write exists already.")
    p.add_argument("-c", "--config", required=True, help="an agent config with a `simulate` source")
    p.add_argument("-o", "--out", required=True, help="the folder the CSV files go into (made if missing)")
    p.add_argument("--days", type=positive(float), default=None,
                   help="simulated days to write (default: the source's duration_s)")
    p.set_defaults(func=run)


def _stamp_format(tick_s: float) -> str:
    """Whole seconds when every tick falls on one, else milliseconds."""
    return "seconds" if abs(tick_s - round(tick_s)) < 1e-9 else "milliseconds"


def stamp(ts: float, timespec: str) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def _day_file(out: Path, day: int) -> Path:
    return out / f"{dt.datetime.fromtimestamp(day * DAY_S, dt.timezone.utc):%Y-%m-%d}.csv"


def write(cfg: "AgentConfig", index: int, out: Path, days: float | None) -> list[tuple[Path, int, int]]:
    """The config's sources[index] (simulate) written into `out`; (file, rows, labelled rows) per file."""
    from dataclasses import replace
    from .sources.simulate import Simulation
    src = cfg.sources[index]
    if days is not None:
        src = replace(src, duration_s=days * DAY_S)
    sim = Simulation(src, cfg.sensor_names(), src.tick_s or cfg.tick_s)
    timespec = _stamp_format(sim.tick_s)
    if sim.total_ticks:
        last = sim.start_index * sim.tick_s + (sim.total_ticks - 1) * sim.tick_s
        for today in range(math.floor(sim.start / DAY_S), math.floor(last / DAY_S) + 1):
            if _day_file(out, today).exists():          # refused before anything is written
                raise FileExistsError(None, "exists", str(_day_file(out, today)))
    header = ["timestamp", *sim.sensors, LABEL_COLUMN]
    written: list[tuple[Path, int, int]] = []
    day, handle, writer, rows, labelled = None, None, None, 0, 0
    try:
        for _, rec in sim:
            today = math.floor(rec.ts / DAY_S)
            if today != day:
                if handle is not None:
                    handle.close()
                    written.append((path, rows, labelled))
                day, rows, labelled = today, 0, 0
                path = _day_file(out, today)
                handle = path.open("x", newline="", encoding="utf-8")
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
            values = rec.values
            writer.writerow([stamp(rec.ts, timespec), *(f"{values[s]:.6g}" if s in values else "" for s in sim.sensors),
                             int(bool(rec.label))])
            rows += 1
            labelled += int(bool(rec.label))
    finally:
        if handle is not None:
            handle.close()
            written.append((path, rows, labelled))
    return written


def _add_one(cfg: "AgentConfig") -> str:
    """The source to add, in the scenario these sensors fit: user27 ran `simulate` on a copy of
    configs/roadside.yaml and was told to add `scenario: pump` to a corridor of loop detectors. A gateway
    config's live source stays the gateway's: the advice is for a copy."""
    measures = {name.rpartition("_")[2] for name in cfg.sensor_names()}
    corridor = cfg.topology == "corridor" or measures <= {"flow", "occ", "speed"}
    source = "{type: simulate, scenario: corridor, seed: 1}" if corridor else "{type: simulate, scenario: pump, seed: 1}"
    if cfg.sources:
        return (f"in a copy of this config, replace `sources` by `[{source}]`: the simulator writes this config's "
                f"sensors, tick and topology")
    return f"add one: `- {source}`"


def run(args) -> int:
    from .cli import load_config
    from .sources.simulate import SimulateConfig
    cfg = load_config(args.config, machine=False)       # writes files only: its sinks, secrets and state are not used
    if cfg is None:
        return EXIT_CONFIG
    index = next((i for i, s in enumerate(cfg.sources) if isinstance(s, SimulateConfig)), None)
    if index is None:
        print(f"{args.config}: sources: no `simulate` source to write ({_add_one(cfg)}; docs/converter.md, \"Recordings "
              f"from the simulator\")", file=sys.stderr)
        return EXIT_CONFIG
    if args.days is None and cfg.sources[index].duration_s is None:
        print(f"{args.config}: sources[{index}].duration_s: the simulator runs until stopped; give --days "
              f"(or set duration_s)", file=sys.stderr)
        return EXIT_CONFIG
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        written = write(cfg, index, out, args.days)
    except FileExistsError as exc:
        print(f"simulate: {exc.filename} exists already: nothing is overwritten (write into an empty folder)",
              file=sys.stderr)
        return EXIT_CONFIG
    rows = sum(n for _, n, _ in written)
    labelled = sum(n for _, _, n in written)
    if labelled:
        said = (f"{labelled:,} labelled `{LABEL_COLUMN}`, the injected anomalies: give `label_columns: "
                f"[{LABEL_COLUMN}]` to train and evaluate; a warm-up reads no labels and learns them as normal running, "
                f"so for `warmup.replay` write a run with `anomalies: []`")
    else:
        said = "no anomaly injected: normal running, for `warmup.replay` or training"
    print(f"simulate: {rows:,} rows in {len(written)} file(s) in {out} ({written[0][0].name} … {written[-1][0].name});"
          f" {said}", file=sys.stderr)
    return 0
