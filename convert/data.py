"""Training data the way the agent sees it: the agent's own sources, aligner, normaliser and windows.

    series = read_series(cfg, training_sources(cfg, days=6, seed=101, anomalies="none"))
    split = TimeSplit.of(len(series))
    normaliser = fit_normaliser(series, split)
    z = normaliser.apply(series.raw)

Rows are split by time (train, then validation, then held-out test), never shuffled across.
Rows labelled anomalous (Record.label == 1) are kept in the context of a window but never
used as a training target, and are left out of the normaliser fit; a tick no record was read for carries the
tick before it, its label too (`row_labels`).

Separate recordings (every file of a replay folder, e.g. six weekday mornings), long gaps
inside one (no sensor observed for more than `window.steps` ticks after carry-forward ran out)
and a clock that steps back inside one (a logger set back an hour: the rows after the step are
from before the rows before it) are separate *segments*: the ticks between them are not filled in, no window spans two of them,
and each segment is split by time (70 / 15 / 15) on its own. The series then holds every
segment's training rows, then every segment's validation rows, then every segment's test rows,
so that one TimeSplit still describes it; `segment` says which piece each row belongs to.
One recording without long gaps is one segment: rows and split exactly as before.

Each file of a replay folder is also judged on its own (convert/file_checks.py): one none of whose rows the replay
read, or that lost more than 1 % of them to reading, refuses training by name and first bad line; one without rows,
shorter than a window or without a sensor is said.

With several recordings of a day or more each (`SPLIT_MIN_RECORDINGS`, `SPLIT_MIN_SPAN_S`: one CSV
per day from a historian), the split is by recording instead (`split="auto"`, the default, or
"recording"): the newest recording is the test part and the one before it the validation part,
whole, so that the threshold is calibrated on every hour of a day, the morning peak included, and
verify's held-out windows cover a whole day — split by time, every day's validation part is the
same evening hours and its test part the night (user11). `split="time"` keeps the split above.
"""
from __future__ import annotations

import dataclasses
import heapq
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from agent.alerts import iso
from agent.config import format_keys
from agent.label_names import (ANOMALY_WORDS, LABEL_STEMS, MAX_LABEL_WORDS, STATUS_NAMES, label_named, what_to_write,
                               words_shown)
from agent.records import QuietRejects, Record, Rejects, read_without_text, span, split_read_without
from agent.sources import open_source
from agent.sources.lines import parse_time
from agent.sources.replay import ReplayConfig
from agent.sources.replay_files import unread_text
from agent.sources.simulate import SimulateConfig
from agent.window import Normaliser, align_records, carry_ticks, sliding_windows, stack_rows

from .file_checks import FileRead, FileRejects, header_of, notes, refusal, renamed_mid_file
from .local_time import clock_change, clock_change_text
from .long_exports import long_export, per_tag_files
from .sparse_readings import sparse_sensors
from .status_cells import end_carries, noting_status_cells
from .stopped_stretches import stopped_stretches, stretch_text

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.sources.base import SourceConfig

log = logging.getLogger("stad.convert.data")


class TrainingError(ValueError):
    """Training cannot produce a bundle worth shipping; the message says why (the CLI exits 2)."""


def rejected_text(rejected: dict[str, int] | None) -> str:
    """'; rejected while reading: 2597 late, …' — what a refusal for too little data adds, or ''."""
    if not rejected:
        return ""
    dropped, read_without = split_read_without(rejected)     # a file read without a column: its rows were (user32)
    text = ("; rejected while reading: " + ", ".join(f"{n} {why}" for why, n in dropped.items()) +
            " (the first of each reason is logged above; e.g. rows newest-first are 'late')" if dropped else "")
    text += f"; {read_without_text(read_without)}" if read_without else ""
    if rejected.get("duplicate"):       # review21: tick_s 10 on 1-s recordings said only '129928 duplicate'
        text += (" — 'duplicate' is a sensor's second reading in one tick: when that is most of them, the "
                 "recordings are sampled faster than tick_s and only each tick's first reading is kept; set "
                 "tick_s to their period (and the gateway's with it)")
    if rejected.get("repeated reading"):    # qa53: the same row twice is no sign of the tick
        text += (" — 'repeated reading' is the same reading twice (same stamp, same value): rows written twice, or "
                 "recordings that overlap; one of each is kept, nothing to set")
    return text


@dataclass
class Series:
    """Aligned rows, oldest first."""
    sensors: list[str]
    ts: np.ndarray         # (n,) tick start, epoch seconds
    raw: np.ndarray        # (n, N) float64, NaN where missing
    missing: np.ndarray    # (n, N) bool
    anomalous: np.ndarray  # (n,) bool: the row carries label 1
    segment: np.ndarray | None = None   # (n,) piece id (contiguous runs): windows never span two
    split: "TimeSplit | None" = None    # train | validation | test boundaries of these rows
    segments: list[dict] | None = None  # what each recording contributed (for the manifest)
    rejected: dict[str, int] | None = None   # records rejected while reading, by reason
    split_by: str = "time"              # "time": each segment 70/15/15; "recording": whole recordings
    off_levels: list[dict] | None = None     # long stretches off the usual levels (convert.stopped_stretches)

    def rejected_text(self) -> str:
        """'; rejected while reading: 2597 late, …' — what a too-little-data refusal adds, or ''."""
        return rejected_text(self.rejected)

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def _warmup_hint(cfg: AgentConfig) -> str:
    """A gateway config given to train names its recordings already when it warms up on them: say
    how to train on those (an integrator ran `stad-convert train` on the gateway's Modbus config)."""
    if not cfg.warmup.replay:
        return ""
    return (f"; this config's warmup.replay names recordings: train on them with a copy of it whose "
            f"sources are [{warmup_as_source(cfg)}]")


def warmup_as_source(cfg: AgentConfig) -> str:
    """`warmup.replay` as a replay source, one line of YAML: its path, and the format keys the warm-up
    reads it with (`warmup.replay_format` over the first replay source's) where they are not the replay
    defaults — without them training would read a `;`-separated recording as the defaults do (qa22)."""
    reader, _ = cfg.warmup_reader()
    return _flow({"type": "replay", "path": str(cfg.resolve(cfg.warmup.replay)), **format_keys(reader)})


def gateway_keys(cfg: AgentConfig, bundle: Path) -> str:
    """After a successful train: the keys a gateway config needs to score with `bundle`, as YAML —
    `scoring.bundle` and the warm-up. The other way round from `warmup_as_source`, with the same format
    keys: the recordings trained on become `warmup.replay` (the config's own `warmup.replay` when it names
    some, else its first replay source's folder) read as training read them (`warmup.replay_format`:
    a gateway whose sources are live has no replay source to take them from); without recordings
    (a simulate source, stdin) the warm-up is `warmup.ticks` of live data."""
    replay = next((s for s in cfg.sources if isinstance(s, ReplayConfig)), None)
    recordings = cfg.warmup.replay or (replay.path if replay is not None else None)
    warmup: dict = {"ticks": cfg.warmup.ticks}
    if recordings:
        warmup["replay"] = str(cfg.resolve(recordings))
        fmt = format_keys(cfg.warmup_reader()[0])      # the first replay source's, warmup.replay_format's over them
        if fmt:
            warmup["replay_format"] = fmt
    keys = {"scoring": {"bundle": str(Path(bundle).resolve())}, "warmup": warmup}
    import yaml
    text = yaml.safe_dump(keys, default_flow_style=False, sort_keys=False, width=1 << 20).rstrip()
    # (the training recordings' counts: said only when the warm-up reads those, not a warmup.replay of its own)
    notes = [labelled_warmup_note(bundle) if recordings and not cfg.warmup.replay else None,
             models_dir_note(cfg, bundle)]
    return "\n".join([text, *(n for n in notes if n)])


def models_dir_note(cfg: AgentConfig, bundle: Path) -> str | None:
    """A YAML comment under the keys when the config watches `scoring.models_dir` (configs/roadside.yaml does): the
    other way to deliver the bundle, and the first start's exception. user35 trained on a copy of the gateway's
    config, read `scoring: bundle:`, delivered into models_dir instead — before the agent's first start, where a bundle
    is taken as decided and not loaded."""
    if not cfg.scoring.models_dir:
        return None
    where, name = cfg.resolve(cfg.scoring.models_dir), Path(bundle).resolve().name
    return (f"# or, as this config watches scoring.models_dir, deliver it there instead of naming it: cp -r "
            f"{Path(bundle).resolve()} {where}/.{name}.tmp && mv {where}/.{name}.tmp {where}/{name} — taken while the "
            "agent runs; one there before the agent's first start is taken only on SIGHUP (systemctl reload)")


def labelled_warmup_note(bundle: Path) -> str | None:
    """A YAML comment under the keys when the recordings they warm up on hold labelled rows (the bundle's
    manifest, `data.segments[].labelled`): training left those rows out of its targets, but `warmup.replay` uses
    no labels and learns every row as normal running — the fallback, the profile and both thresholds. user23
    warmed a gateway on the SKAB valve files train had just printed: their valve tests (a third of the ticks)
    were the warm-up's normal (the model tier's threshold 13.98, against 11.74 warmed on the same files cut before
    their labels). Said when the manifest has per-recording counts (a bundle from before review43: only for two
    recordings or more)."""
    import json
    try:
        data = json.loads((Path(bundle) / "manifest.json").read_text()).get("data") or {}
    except (OSError, ValueError):
        return None
    segments = data.get("segments") or []
    labelled = sum(sum((seg.get("labelled") or {}).values()) for seg in segments)
    if not labelled:
        return None
    rows = sum(int(seg.get("rows", 0)) for seg in segments)
    columns = sorted({c for src in data.get("sources") or [] for c in src.get("label_columns") or []})
    return (f"# note: {labelled:,} of these recordings' {rows:,} ticks are labelled ({', '.join(columns) or 'labels'}): "
            f"training left them out, but warmup.replay uses no labels and learns every row as normal running "
            f"(the fallback, the profile, the thresholds) — point it at a copy without the labelled stretches, "
            f"or leave it out and warm up on warmup.ticks of live normal running")


def _flow(entry: dict) -> str:
    """`entry` as one line of YAML."""
    import yaml
    return yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=1 << 20).strip()


#: Several simulator seeds (`seed` a list): the k-th seed's copy of a simulate source starts this many days
#: after the (k−1)-th's — whole weeks, so every seed plays the same weekdays, and far apart enough that each is
#: its own segment (convert.data.segment_bounds: no window spans two seeds). More days than fit are refused.
SEED_SPACING_DAYS = 28.0


def repeated_seed(seeds) -> str | None:
    """'3102 given twice (…)' when a simulator seed is listed more than once, else None.

    Each seed is its own segment split by time on its own: one seed twice is the same days twice, so what one
    copy trains on the other validates and tests on (held-out figures scored on training data)."""
    seen = set()
    for one in seeds:
        if one is not None and int(one) in seen:
            return (f"{int(one)} given twice ({list(seeds)}): the same seed plays the same days, so its training "
                    f"days would be validation and test days too — give each seed once")
        if one is not None:
            seen.add(int(one))
    return None


def training_sources(cfg: AgentConfig, days: float | None = None, seed: int | list[int] | None = None,
                     anomalies: str = "none") -> list:
    """The config's sources, adjusted for offline training.

    Simulated sources run unpaced for `days` of simulated time, with `seed` (a seed other than
    the demo's keeps training data apart from what the demo plays) and, with anomalies="none",
    no injected anomalies. A list of seeds makes one copy of each simulate source per seed, the
    k-th starting k × SEED_SPACING_DAYS later: read_series merges them into one recording with a
    gap between seeds, so each seed is its own segment (split 70 / 15 / 15 by time on its own).
    Other sources (replay, stdin, a plugin's) are used as they are; one that
    never ends on its own (`SourceConfig.endless`: udp, mqtt, modbus, opcua) is refused rather than
    listened to forever.
    """
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    if not seeds:
        raise ValueError("seed: an empty list of simulator seeds")
    twice = repeated_seed(seeds)
    if twice:
        raise TrainingError(f"seed: {twice}")
    if len(seeds) > 1 and (days is None or float(days) > SEED_SPACING_DAYS - 1):    # a day's gap at least
        raise ValueError(f"several simulator seeds take at most {SEED_SPACING_DAYS - 1:g} days each (one segment "
                         f"a seed, {SEED_SPACING_DAYS:g} days apart), got days={days}")
    out = []
    for i, src in enumerate(cfg.sources):
        if src.endless:
            raise TrainingError(f"sources[{i}]: a {src.TYPE} source waits for live data and never ends: training "
                                "reads recordings — a replay source (a file, or a folder of them), a simulate "
                                "source, or stdin from a file" + _warmup_hint(cfg))
        if isinstance(src, SimulateConfig):
            changes = {"speed": 0.0, "fast_forward_s": 0.0}
            if days is not None:
                changes["duration_s"] = float(days) * 86400.0
            elif src.duration_s is None:
                raise ValueError("a simulate source runs forever unless given a duration: pass days")
            if anomalies == "none":
                changes["anomalies"] = []
            for k, one in enumerate(seeds):
                moved = {} if k == 0 else {"start": iso(parse_time(src.start) + k * SEED_SPACING_DAYS * 86400.0)}
                out.append(dataclasses.replace(src, **changes, **moved, **({} if one is None else {"seed": int(one)})))
            continue
        out.append(src)
    return out


def source_records(cfg: AgentConfig, src: SourceConfig, rejects: Rejects | None = None) -> list[Record]:
    sensors = cfg.sensor_names()
    if isinstance(src, SimulateConfig):
        from agent.sources.simulate import generate
        return generate(src, sensors, cfg.tick_s)
    source = open_source(src, sensors, rejects if rejects is not None else Rejects(), base_dir=cfg.base_dir)
    try:
        records = list(source.records())
    finally:
        source.close()
    _all_read(source)
    return records


def read_series(cfg: AgentConfig, sources: list, records: list[Record] | None = None,
                split: str = "auto") -> Series:
    """Align the records onto the config's tick grid, one segment per recording and long gap.

    A single replay source contributes one recording per file; several sources (or a simulated
    one) are merged by time into one recording. `records`: one recording given directly.
    `split`: "time", "recording" or "auto" (split_by's choice).
    """
    rejects = FileRejects()
    statuses: dict[str, list[tuple[float, str]]] = {}     # a file's words in its sensors' cells (status_cells)
    replay = sources[0] if records is None and len(sources) == 1 and isinstance(sources[0], ReplayConfig) else None
    if records is not None:
        recordings = [("records", records)]
    elif replay is not None:
        recordings = replay_recordings(cfg, replay, rejects, statuses)
    else:
        streams = [source_records(cfg, src, rejects) for src in sources]
        recordings = [("sources", list(heapq.merge(*streams, key=lambda r: r.ts)) if len(streams) > 1
                       else streams[0])]
    pieces, files = [], []
    for name, recs in recordings:
        if replay is not None and (change := clock_change(recs, cfg.tick_s)):
            log.warning("%s", clock_change_text(name, *change))
        rejects.file = name if replay is not None else None
        whole = series_from_records(recs, cfg.sensor_names(), cfg.tick_s, cfg.window.carry_forward_s, rejects,
                                    steps=cfg.window.steps)
        rejects.file = None
        if replay is not None:
            files.append(FileRead(name, recs, 0 if whole is None else len(whole), replay_header(cfg, replay, name)))
        if whole is None:               # no record, or none that made a row (every value rejected)
            continue
        ended = end_carries(whole.ts, whole.missing, whole.raw, cfg.sensor_names(), recs, statuses.get(name, []),
                            cfg.tick_s)
        if ended:
            words = statuses[name]
            log.warning("%s: %d status word(s) in place of readings (of %s): %d tick(s) after them trained as "
                        "missing, not as the reading before carried on", name, len(words),
                        ", ".join(dict.fromkeys(sensor for _, sensor in words)), ended)
        backs = np.flatnonzero(np.diff(whole.ts) <= 0) + 1          # rows whose time steps back
        for i in backs:
            log.warning("%s: its time steps back at tick %d of %d, from %s to %s: the ticks on either side of the "
                        "step are trained as separate pieces (no window spans it)", name, i + 1, len(whole),
                        iso(float(whole.ts[i - 1])), iso(float(whole.ts[i])))
        bounds = segment_bounds(whole.missing, cfg.window.steps, backs)
        gaps = gaps_between(whole.ts, bounds, cfg.tick_s)
        if gaps:
            log.info("%s", gaps_text(name, gaps, len(bounds)))
        for lo, hi in bounds:
            pieces.append((name, _rows(whole, slice(lo, hi))))
    said = judge_files(files, rejects, cfg, replay)
    if not pieces:
        raise TrainingError("the sources produced no rows" + (f" ({'; '.join(said)})" if said else "")
                            + rejected_text(rejects.as_dict()))
    bad_labels(rejects)
    sparse = sparse_sensors(recordings, cfg.sensor_names(), np.concatenate([p.missing for _, p in pieces]),
                            cfg.window.carry_forward_s, cfg.tick_s)
    if sparse:
        raise TrainingError(sparse)
    if split_by(pieces, cfg.tick_s, split, cfg.window.steps) == "recording":
        series = split_recordings(pieces, cfg.window.steps)
    else:
        series = split_segments(pieces, cfg.window.steps)
    series.rejected = rejects.as_dict()
    series.off_levels = stopped_stretches(series, cfg.tick_s, cfg.window.steps)
    for stretch in series.off_levels:
        log.warning("%s", stretch_text(stretch))
    return series


def judge_files(files: list[FileRead], rejects: FileRejects, cfg: AgentConfig, src: ReplayConfig | None) -> list[str]:
    """Each file of a replay judged on its own (convert.file_checks): TrainingError for the first that must not be
    trained on as read; what is said of the others (a WARNING each), returned for a refusal that ends with no row."""
    paths = {f.name: replay_file(cfg, src, f.name) for f in files}     # (files: a replay's, so `src` is given)
    for f in files:
        why = long_export(paths[f.name], f.name, src.separator, f.header) or refusal(f, rejects)
        if why:
            raise TrainingError(why)
    sensors = cfg.sensor_names()
    spans = [(f.name, min(r.ts for r in f.records), max(r.ts for r in f.records),
              {s for r in f.records for s, v in r.values.items() if math.isfinite(v)}) for f in files if f.records]
    why = per_tag_files(spans, cfg.window.steps * cfg.tick_s)
    if why:
        raise TrainingError(why)
    said = [line for f in files for line in notes(f, sensors, cfg.window.steps, src)]
    for f in files:
        mapped = {} if f.header is None else {c: m for c, m in src.sensor_columns(f.header, sensors).items()
                                              if c in f.header}
        said += renamed_mid_file(f, sensors, cfg.window.steps, src,
                                 lambda columns, path=paths[f.name], mapped=mapped:
                                 first_numbers(src, path, mapped, columns))
    for line in said[:MAX_FILE_LINES]:
        log.warning("%s", line)
    if len(said) > MAX_FILE_LINES:          # a year of daily files, a sensor added in June: not 180 lines
        log.warning("… and %d more lines like these, for %s", len(said) - MAX_FILE_LINES,
                    ", ".join(dict.fromkeys(line.split(":")[0] for line in said[MAX_FILE_LINES:][:5])) +
                    (" and others" if len(said) - MAX_FILE_LINES > 5 else ""))
    return said


#: The most lines judge_files says of single files; the rest are summed up in one.
MAX_FILE_LINES = 10


def replay_file(cfg: AgentConfig, src: ReplayConfig, name: str) -> Path:
    """The path of the replay's file `name`: `src.path` itself when it is a file, else that folder's `name`."""
    root = Path(cfg.resolve(src.path))
    return root if root.is_file() else root / name


def replay_header(cfg: AgentConfig, src: ReplayConfig, name: str) -> list[str] | None:
    """The first header of the replay's file `name` as the replay reads it; None for JSON lines."""
    path = replay_file(cfg, src, name)
    return None if src.reads_as_jsonl(path) else header_of(path, src.separator)


def bad_labels(rejects: Rejects) -> None:
    """TrainingError when a label cell could not be read (`bad label`: the replay source reads a number, non-zero
    anomalous): its row was kept unlabelled, which training takes as normal — a column of TRUE/FALSE or yes/no
    trained every labelled anomaly as normal running (review34). A blank cell too: blank may be "not reviewed"."""
    n = rejects.counts.get("bad label", 0)
    if n:
        where, detail = rejects.first["bad label"]
        raise TrainingError(f"{n} row{'s' if n > 1 else ''} with a label that is not a number (the first: {where}, "
                            f"{detail}): a label is 0 for normal running, another number for an anomaly (a blank "
                            "cell is neither) — a row whose label cannot be read cannot be told apart, and would be trained on as normal; "
                            "write the label column as 0/1 (e.g. TRUE/FALSE as 1/0)")


def replay_recordings(cfg: AgentConfig, src: ReplayConfig, rejects: Rejects | None = None,
                      statuses: dict[str, list[tuple[float, str]]] | None = None) -> list[tuple[str, list[Record]]]:
    """(name, its records) of each file of the replay. `statuses`: filled with {name: [(time, sensor)]} of the
    words in its sensors' cells (convert.status_cells)."""
    from agent.sources.replay import ReplaySource
    noted: list[tuple[float, str]] = []
    source = noting_status_cells(ReplaySource, noted)(src, cfg.sensor_names(),
                                                      rejects if rejects is not None else Rejects(),
                                                      base_dir=cfg.base_dir)
    recordings = []
    try:
        for name, recs in source.recordings():
            if isinstance(rejects, FileRejects):
                rejects.file = name         # what this file's reading rejected, kept apart (convert.file_checks)
            recordings.append((name, list(recs)))
            if statuses is not None and noted:
                statuses[name] = noted[:]
            noted.clear()
    finally:
        source.close()
        if isinstance(rejects, FileRejects):
            rejects.file = None
    _all_read(source)
    if isinstance(rejects, FileRejects):
        rejects.skipped.update(source.skipped)      # rows after a header again that maps no sensor (file_checks)
    if source.unread:       # a day left out of the model, said before it is trained without it
        log.warning("%s: %s", source.root, unread_text(source.unread, src.format))
    for line in label_like_columns(src, source.root, source.files, cfg.sensor_names()):
        log.warning("%s", line)
    return recordings


def label_like_columns(src: ReplayConfig, root: Path, files: list[Path], sensors: list[str]) -> list[str]:
    """One line per CSV column that looks like a label — named like one (LABEL_STEMS), every value 0
    or 1, some 1 — and is neither a sensor's, the time's nor in `label_columns`: its rows labelled 1
    are trained on as normal running (review21: SKAB's valve1/ trained with its anomalies without a
    word; README asks for recordings of normal running). Said, not refused: the user may know the
    column means something else. `label_columns` leaves those rows out of the targets and the
    normaliser's fit (kept as a window's context). The columns are read by the replay itself (`label_scan`),
    so by its rules for every line: a header again, a BOM, line ends, blank and bad lines (convert6)."""
    found: dict[str, list] = {}         # column -> [files with a 1, rows labelled 1, rows]
    words: dict[str, list] = {}         # column -> [files, Counter of its text cells]: a label written as text
    for path in files:
        if src.reads_as_jsonl(path):
            continue
        header = header_of(path, src.separator) or []
        mapped = src.sensor_columns(header, sensors)
        wanted = [c for c in dict.fromkeys(header)
                  if c not in mapped and c != src.time_column_of(header) and c not in src.label_columns
                  and any(stem in c.lower() for stem in (*LABEL_STEMS, *STATUS_NAMES))]
        if wanted:
            name = path.relative_to(root).as_posix() if root.is_dir() else path.name
            texts: dict[str, Counter] = {}
            for column, ones in label_scan(src, path, mapped, wanted, texts).items():
                if not label_named(column):
                    continue        # a `state` of 0/1 is a machine's on/off as often: only its words are judged
                entry = found.setdefault(column, [[], 0, 0])
                entry[0] += [name] if ones[0] else []
                entry[1] += ones[0]
                entry[2] += ones[1]
            for column, cells in texts.items():
                if any(cell.lower() in ANOMALY_WORDS for cell in cells):    # (judged by file: a `state` is a
                    entry = words.setdefault(column, [[], Counter()])      # label in one, running/stopped in another)
                    entry[0].append(name)
                    entry[1].update(cells)
    out = [text_label_line(column, names, cells) for column, (names, cells) in words.items()]
    for column, (names, ones, rows) in found.items():
        if not ones:
            continue
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        out.append(f"column {column!r} looks like a label (0/1; 1 on {ones:,} of {rows:,} rows, in {shown}) and is "
                   f"not in the source's label_columns: those rows are trained on as normal running. To leave "
                   f"them out (a window's context only, never a target nor in the normalisation), add "
                   f"label_columns: [{column}] to the replay source")
    return out


class _ThisThreadHushed(logging.Filter):
    """Drops the records logged by the thread that made it: the label scan's own replay lines. Before (faults16) the
    scan set `stad.replay` disabled, process-wide: a replay read by another thread meanwhile (an agent's source, a
    second training) lost its warnings for as long as the scan ran."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


def text_label_line(column: str, names: list[str], cells: Counter) -> str:
    """What is said of a column of label words (ANOMALY_WORDS) that `label_columns` does not name (chaos7: a
    `normal` / `anomaly` column among numeric sensors was passed over unsaid — the scan read numbers only, and a
    text cell is no reading — its anomalies trained on as normal running)."""
    files = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"column {column!r} looks like a label written as text ({words_shown(cells)}; in {files}) and is not in "
            f"the source's label_columns: the rows it marks are trained on as normal running. A label is a number: "
            f"write the column as 0/1 ({what_to_write(cells)}), and add label_columns: [{column}] to the replay "
            "source")


#: The sensor name a label-like column is read under by label_scan (no configured sensor is named so).
_SCANNED = "\x00label-scan:"


def _cells_seen(source_class, texts: dict[str, Counter]):
    """A replay source class whose CSV rows also tell `texts` ({column: Counter}) each text cell — no number, not
    blank — of its label-scan columns, in rows the replay reads; a column past MAX_LABEL_WORDS distinct cells is
    dropped (free text) and marked so with None."""
    class CellsSeen(source_class):
        def _csv_row(self, row, where, time_i, value_cols, label_cols):
            rec = super()._csv_row(row, where, time_i, value_cols, label_cols)
            if rec is None:
                return None
            for i, column, sensor in value_cols:
                if sensor in rec.values or not sensor.startswith(_SCANNED) or texts.get(column, 0) is None:
                    continue
                cell = row[i].strip()
                if cell:
                    seen = texts.setdefault(column, Counter())
                    seen[cell] += 1
                    if len(seen) > MAX_LABEL_WORDS:
                        texts[column] = None
            return rec
    return CellsSeen


def label_scan(src: ReplayConfig, path: Path, mapped: dict[str, str], wanted: list[str],
               texts: dict[str, Counter] | None = None) -> dict[str, tuple[int, int]]:
    """{column: (rows holding 1 that no label column marks, rows read)} for the columns of `wanted` whose every
    number is 0 or 1; the others (a mode 0/1/2, a measurement) are left out. The file is read by a replay source
    of its own — the sensors' columns (`mapped`: {column: sensor} of its header) and `wanted` as sensors of their
    own, quiet (its lines were said by the training read) — so a row counts when the replay reads it for training,
    and a label column marks it as the replay does. A row a label column already marks is not trained on: SKAB's changepoints lie in its anomalies.
    Before convert6 the file was read by a reader of its own: a header again mid-file was a row (a reordered one
    read the columns at the first header's places), a row the replay rejects (a bad time, a wrong width) counted.
    `texts`: filled with {column: Counter of its cells} for the columns of `wanted` holding words only, no number
    (`_cells_seen`; chaos7)."""
    from agent.sources.replay import ReplaySource
    columns = {**mapped, **{c: _SCANNED + c for c in wanted}}
    scan = dataclasses.replace(src, path=str(path), columns=columns, speed=0.0, labels_file=None)
    cells: dict = {}
    reader = ReplaySource if texts is None else _cells_seen(ReplaySource, cells)
    source = reader(scan, [*dict.fromkeys(columns.values())], QuietRejects())
    ones, rows, alive, numeric = dict.fromkeys(wanted, 0), 0, set(wanted), set()
    quiet, hushed = logging.getLogger("stad.replay"), _ThisThreadHushed()
    quiet.addFilter(hushed)         # its header-again and labels-window lines: said once already (this thread's only)
    try:
        for rec in source.records():
            rows += 1
            for column in list(alive):
                value = rec.values.get(_SCANNED + column)
                if value is None:
                    continue
                numeric.add(column)
                if value not in (0.0, 1.0):
                    alive.discard(column)
                elif value == 1.0 and rec.label != 1:
                    ones[column] += 1
    except OSError:                 # the training read said it (an unreadable file refuses training)
        return {}
    finally:
        quiet.removeFilter(hushed)
        source.close()
    if texts is not None:       # a column of words only (no number read in it): `text_label_line` judges it
        texts.update({c: seen for c, seen in cells.items() if seen is not None and c not in numeric})
    return {c: (ones[c], rows) for c in wanted if c in alive}


def first_numbers(src: ReplayConfig, path: Path, mapped: dict[str, str], columns: list[str]) -> dict[str, float]:
    """{column: the time of its first number} of `columns` of the replay file `path`, read by the replay's own rules
    as label_scan reads (the sensors' columns `mapped` too, quiet); a column without a number is left out."""
    from agent.sources.replay import ReplaySource
    scan = dataclasses.replace(src, path=str(path), columns={**mapped, **{c: _SCANNED + c for c in columns}},
                               speed=0.0, labels_file=None)
    source = ReplaySource(scan, [*dict.fromkeys(scan.columns.values())], QuietRejects())
    found: dict[str, float] = {}
    quiet, hushed = logging.getLogger("stad.replay"), _ThisThreadHushed()
    quiet.addFilter(hushed)
    try:
        for rec in source.records():
            for c in columns:
                if c not in found and math.isfinite(rec.values.get(_SCANNED + c, math.nan)):
                    found[c] = rec.ts
            if len(found) == len(columns):
                break
    except OSError:                 # the training read said it
        return found
    finally:
        quiet.removeFilter(hushed)
        source.close()
    return found


def _all_read(source) -> None:
    """TrainingError when a replayed file could not be read: a model trained on the files that
    happened to read is not the one asked for."""
    unreadable = getattr(source, "unreadable", None)
    if unreadable:
        raise TrainingError("cannot train on every file of the recording: " + "; ".join(unreadable))


def series_from_records(records: list[Record], sensors: list[str], tick_s: float,
                        carry_forward_s: float, rejects: Rejects | None = None,
                        steps: int | None = None) -> Series | None:
    """The records aligned onto the tick grid; None when they make no row.

    With `steps` (the window), a stretch without data is not aligned tick by tick: once carry-forward has run
    out, `steps + 1` empty ticks are kept — enough for `segment_bounds` to cut there, the pieces exactly as with
    every tick — and the rest skipped. A month without data at 1 s ticks was 2.6 million rows built and
    thrown away (~1.5 GB); a year, ~19 GB (qa37)."""
    max_gap = None if steps is None else carry_ticks(carry_forward_s, tick_s) + steps + 1
    # A jump of the data is no news here (where the agent runs it is: WARNING there): read_series says the gaps
    # once per recording, as the pieces it trains (qa38).
    rows = align_records(records, sensors, tick_s, carry_forward_s, lateness_ticks=0,
                         rejects=rejects, max_gap_ticks=max_gap, jump_log_level=logging.DEBUG) if records else []
    if not rows:
        return None
    ts, raw, missing = stack_rows(rows)
    return Series(sensors=list(sensors), ts=ts, raw=raw, missing=missing, anomalous=row_labels(rows))


def row_labels(rows) -> np.ndarray:
    """(n,) bool: the row is labelled anomalous. A tick no record was read for (no label, no value but carried or
    missing ones) takes the label of the tick before it, whose values it carries: else a second the logger skipped
    inside a labelled anomaly was a normal training target holding the anomaly's readings (review34: every SKAB
    labelled file has such seconds, 793 in all)."""
    labels = np.array([-1 if r.label is None and (r.missing | r.carried).all() else int(r.label == 1)
                       for r in rows], np.int8)
    known = np.where(labels >= 0, np.arange(labels.size), 0)
    np.maximum.accumulate(known, out=known)     # each row's last tick with a label of its own (or row 0)
    return labels[known] == 1


def segment_bounds(missing: np.ndarray, steps: int, backs: np.ndarray | None = None) -> list[tuple[int, int]]:
    """[lo, hi) row ranges between gaps: runs of more than `steps` ticks with no sensor observed
    (carry-forward has already run out in them). Shorter runs stay: the model masks them. With
    `backs`, the rows whose tick is not after the one before (time steps back there), a range is
    also cut at each: a window across the step would be a stretch of time that never happened."""
    empty = missing.all(axis=1)
    bounds, lo, i, n = [], None, 0, len(empty)
    while i < n:
        if not empty[i]:
            lo = i if lo is None else lo
            i += 1
            continue
        j = i
        while j < n and empty[j]:
            j += 1
        if j - i > steps or j == n:          # a long gap (or trailing empty ticks) ends a segment
            if lo is not None:
                bounds.append((lo, i))
            lo = None
        i = j
    if lo is not None:
        bounds.append((lo, n))
    if backs is None or not len(backs):
        return bounds
    cut = []
    for lo, hi in bounds:
        edges = [lo, *(int(b) for b in backs if lo < b < hi), hi]
        cut += list(zip(edges[:-1], edges[1:]))
    return cut


def gaps_between(ts: np.ndarray, bounds: list[tuple[int, int]], tick_s: float) -> list[tuple[float, float]]:
    """(first tick without data, first tick with data again) of each stretch between consecutive pieces of one
    recording (segment_bounds' cuts at long runs of empty ticks); a cut where the time steps back is no gap."""
    out = []
    for (_, hi), (lo, _) in zip(bounds[:-1], bounds[1:]):
        start, end = float(ts[hi - 1]) + tick_s, float(ts[lo])
        if end > start:
            out.append((start, end))
    return out


def gaps_text(name: str, gaps: list[tuple[float, float]], pieces: int) -> str:
    """One line for a recording's gaps: how many, the longest, and what training does with them. The aligner's
    live wording ("time base moved: the data jumped …", WARNING, once per gap) is for a running agent's clock."""
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    count = f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''}"
    longest = "the longest " if len(gaps) > 1 else ""
    return (f"{name}: {count} without data ({longest}{span(end - start)}, from {iso(start)} to {iso(end)}): "
            f"trained as {pieces} pieces, no window spans a gap")


def _rows(s: Series, index) -> Series:
    return Series(sensors=s.sensors, ts=s.ts[index], raw=s.raw[index], missing=s.missing[index],
                  anomalous=s.anomalous[index])


def split_segments(pieces: list[tuple[str, Series]], steps: int, val_fraction: float = 0.15,
                   test_fraction: float = 0.15) -> Series:
    """One series ordered train parts | validation parts | test parts, each segment split by time."""
    parts: dict[str, list[tuple[int, Series]]] = {"train": [], "validation": [], "test": []}
    described = []
    for k, (name, piece) in enumerate(pieces):
        cut = TimeSplit.of(len(piece), val_fraction, test_fraction)
        bounds = {"train": (0, cut.train_end), "validation": (cut.train_end, cut.val_end),
                  "test": (cut.val_end, cut.n)}
        for part, (lo, hi) in bounds.items():
            parts[part].append((k, _rows(piece, slice(lo, hi))))
        labelled = {part: int(piece.anomalous[lo:hi].sum()) for part, (lo, hi) in bounds.items()}
        described.append({"recording": name, "rows": len(piece), "first_ts": float(piece.ts[0]),
                          **{part: hi - lo for part, (lo, hi) in bounds.items()},
                          **({"labelled": labelled} if any(labelled.values()) else {})})
    # A segment id per recording piece: only one piece's parts are ever adjacent in this order
    # (when there is just one), and those rows are consecutive in time.
    return _in_parts(parts, described)


def _in_parts(parts: dict[str, list[tuple[int, Series]]], described: list[dict], split_by: str = "time") -> Series:
    """One series of `parts`' pieces (each with its segment id) in the order train | validation | test, its
    TimeSplit at the parts' boundaries (split_segments, split_recordings)."""
    ordered = [(k, p) for part in ("train", "validation", "test") for k, p in parts[part]]
    segment = np.concatenate([np.full(len(p), k) for k, p in ordered])
    n_train = sum(len(p) for _, p in parts["train"])
    n_val = sum(len(p) for _, p in parts["validation"])
    split = TimeSplit(n=int(segment.size), train_end=n_train, val_end=n_train + n_val)
    series = [p for _, p in ordered]
    return Series(sensors=series[0].sensors, ts=np.concatenate([p.ts for p in series]),
                  raw=np.concatenate([p.raw for p in series]),
                  missing=np.concatenate([p.missing for p in series]),
                  anomalous=np.concatenate([p.anomalous for p in series]),
                  segment=segment, split=split, segments=described, split_by=split_by)


#: `split="auto"` splits by recording from this many recordings on, each spanning SPLIT_MIN_SPAN_S or more:
#: one whole recording for validation and one for test still leaves half of them or more to train on.
SPLIT_MIN_RECORDINGS = 4
#: A day, less an hour: a day's file that starts or ends a few ticks off midnight, or a day of a clock change.
SPLIT_MIN_SPAN_S = 23 * 3600.0
SPLITS = ("auto", "time", "recording")


def recording_spans(pieces: list[tuple[str, Series]], tick_s: float) -> dict[str, tuple[float, float]]:
    """{recording: (first tick, end of its last tick)} over its pieces, in the order first seen."""
    spans: dict[str, tuple[float, float]] = {}
    for name, piece in pieces:
        lo, hi = float(piece.ts[0]), float(piece.ts[-1]) + tick_s
        old = spans.get(name)
        spans[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return spans


def split_by(pieces: list[tuple[str, Series]], tick_s: float, split: str = "auto", steps: int = 1) -> str:
    """"time" or "recording": how `pieces` are split into train | validation | test.

    "auto" is "recording" when there are SPLIT_MIN_RECORDINGS recordings or more and each spans
    SPLIT_MIN_SPAN_S (a day) or more — then a whole recording holds every hour of the day; else
    "time" (one long recording, a few days, SKAB's runs of minutes: the split they have always had).
    TrainingError for "recording" on fewer than three recordings (a part would be empty) or on recordings that
    cover the same time for longer than `steps` ticks (`overlapping`; "auto" splits those by time, said)."""
    if split not in SPLITS:
        raise ValueError(f"split: {split!r} is none of {', '.join(SPLITS)}")
    spans = recording_spans(pieces, tick_s)
    if split == "recording" and len(spans) < 3:
        raise TrainingError(f"--split recording needs three recordings or more (one to train on, one for "
                            f"validation, one for test); there are {len(spans)}: use --split time")
    if split == "time":
        return split
    both = overlapping(spans, steps * tick_s)
    if both and split == "recording":
        raise TrainingError(f"split by recording: {both} — the validation or test day would be trained on too; "
                            "remove the copy or use --split time")
    if split != "auto":
        return split
    days = [hi - lo >= SPLIT_MIN_SPAN_S for lo, hi in spans.values()]
    if len(days) >= SPLIT_MIN_RECORDINGS and all(days) and both:
        log.warning("split by time, not by recording: %s", both)
        return "time"
    return "recording" if len(days) >= SPLIT_MIN_RECORDINGS and all(days) else "time"


def overlapping(spans: dict[str, tuple[float, float]], allowed_s: float) -> str:
    """'' or which recordings cover the same time for longer than `allowed_s` (a window: a day's file that
    repeats the next midnight's tick is no overlap), e.g. `day-3.csv` and `day-3 (1).csv`: split by recording,
    a copy of the newest day was the validation part and the day itself the test part (qa31)."""
    order = sorted(spans.items(), key=lambda kv: kv[1])
    found = [f"{a} and {b} overlap by {min(ha, hb) - lb:.0f} s" for i, (a, (la, ha)) in enumerate(order)
             for b, (lb, hb) in order[i + 1:] if min(ha, hb) - lb > allowed_s]
    return "; ".join(found[:3]) + (f"; {len(found) - 3} more" if len(found) > 3 else "")


def split_recordings(pieces: list[tuple[str, Series]], steps: int) -> Series:
    """One series ordered train | validation | test, as split_segments, split by recording: the newest
    recording (by its first tick) is the test part — like the time split, the held-out rows are the
    latest, the nearest to what the gateway will see — and the one before it the validation part;
    every other recording is trained on. Each segment entry says which `part` its recording went to."""
    spans = recording_spans(pieces, 0.0)
    newest = sorted(spans, key=lambda name: spans[name][0])
    part_of = {name: "train" for name in newest[:-2]}
    part_of.update({newest[-2]: "validation", newest[-1]: "test"})
    for part in ("train", "validation", "test"):
        if max((len(p) for name, p in pieces if part_of[name] == part), default=0) < steps:
            names = ", ".join(n for n, r in part_of.items() if r == part)
            raise TrainingError(f"split by recording: the {part} part ({names}) has no piece of {steps} ticks "
                                "(a window): use --split time")
    parts: dict[str, list[tuple[int, Series]]] = {"train": [], "validation": [], "test": []}
    described = []
    for k, (name, piece) in enumerate(pieces):
        parts[part_of[name]].append((k, piece))
        counts = {part: (len(piece) if part == part_of[name] else 0) for part in parts}
        labelled = int(piece.anomalous.sum())
        described.append({"recording": name, "rows": len(piece), "first_ts": float(piece.ts[0]), **counts,
                          "part": part_of[name],
                          **({"labelled": {part_of[name]: labelled}} if labelled else {})})
    return _in_parts(parts, described, "recording")


def holdout_runs(series: Series, steps: int, windows: int) -> list[tuple[int, int]]:
    """The held-out rows `verify` scores as calm, as [lo, hi) runs of series rows: each inside one
    segment's test part (no window across a join between recordings), no row labelled anomalous,
    at least `steps` rows. Up to `windows` windows in all, each run's first ones, spread over the
    runs in proportion to the windows each holds. One recording without labelled test rows: one
    run from the first test row, the rows verify has always had. Split by recording, each run's windows
    are spread over it (`spread`): the test part is a whole day, whose first windows are its night."""
    split = series.split or TimeSplit.of(len(series))
    start = split.val_end
    segment = series.segment if series.segment is not None else np.zeros(len(series), int)
    key = np.where(series.anomalous[start:], -1, segment[start:])       # -1: a labelled row
    if key.size == 0:
        return []
    edges = np.flatnonzero(np.diff(key)) + 1
    runs = [(start + int(a), start + int(b)) for a, b in zip(np.r_[0, edges], np.r_[edges, key.size])
            if key[a] >= 0 and b - a >= steps]
    have = np.array([hi - lo - steps + 1 for lo, hi in runs], np.int64)
    take = have if have.sum() <= windows else have * windows // have.sum()
    if series.split_by == "recording":     # a whole day's test recording: windows from every hour, not its first
        return [piece for (lo, hi), t in zip(runs, take) if t > 0 for piece in spread(lo, hi, int(t), steps)]
    return [(lo, lo + int(t) + steps - 1) for (lo, _), t in zip(runs, take) if t > 0]


def spread(lo: int, hi: int, windows: int, steps: int, pieces: int = 24) -> list[tuple[int, int]]:
    """`windows` windows of rows [lo, hi) as up to `pieces` runs spread evenly over it (one an hour of a
    day's recording), not its first `windows`: that would be the night of a day that starts at midnight.
    One run from `lo` when the pieces' rows would not fit apart."""
    k = max(1, min(pieces, windows // steps))
    each = windows // k
    rows = each + steps - 1
    if k == 1 or k * rows > hi - lo:
        return [(lo, lo + windows + steps - 1)]
    starts = np.linspace(lo, hi - rows, k).round().astype(int)
    return [(int(a), int(a) + rows) for a in starts]


@dataclass(frozen=True)
class TimeSplit:
    """Row index boundaries: train [0, train_end), validation [train_end, val_end), test [val_end, n)."""
    n: int
    train_end: int
    val_end: int

    @classmethod
    def of(cls, n: int, val_fraction: float = 0.15, test_fraction: float = 0.15) -> "TimeSplit":
        val_end = int(round(n * (1.0 - test_fraction)))
        train_end = int(round(n * (1.0 - test_fraction - val_fraction)))
        return cls(n=n, train_end=train_end, val_end=val_end)

    def as_dict(self) -> dict:
        return {"rows": self.n, "train": [0, self.train_end], "validation": [self.train_end, self.val_end],
                "test": [self.val_end, self.n]}


def fit_normaliser(series: Series, split: TimeSplit) -> Normaliser:
    """Per-sensor mean/std of the normal training rows only."""
    train = series.raw[:split.train_end][~series.anomalous[:split.train_end]]
    return Normaliser.fit(train)


@dataclass
class Windows:
    values: np.ndarray    # (n, T, N) float32 normalised
    missing: np.ndarray   # (n, T, N) float32, 1 = missing
    usable: np.ndarray    # (n,) bool: the target (newest) row is not labelled anomalous
    segment: np.ndarray | None = None   # (n,) the segment of each window (consecutive ticks within one)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, index) -> "Windows":
        return Windows(self.values[index], self.missing[index], self.usable[index],
                       None if self.segment is None else self.segment[index])


def window_starts(segment: np.ndarray | None, steps: int, start: int, end: int) -> np.ndarray:
    """First rows of the windows that lie in [start, end) and inside one segment."""
    starts = np.arange(start, max(start, end - steps + 1))
    if segment is None or starts.size == 0:
        return starts
    return starts[segment[starts] == segment[starts + steps - 1]]


def windows_between(z: np.ndarray, missing: np.ndarray, anomalous: np.ndarray, steps: int,
                    start: int, end: int, segment: np.ndarray | None = None) -> Windows:
    """Every window whose rows all lie in [start, end) and in one segment, as contiguous arrays."""
    if end - start < steps:
        raise ValueError(f"{end - start} rows cannot fill a window of {steps} steps")
    values, missing_w = window_arrays(z[start:end], missing[start:end], steps)
    usable = ~anomalous[start + steps - 1:end]
    if segment is None:
        return Windows(values, missing_w, usable)
    keep = window_starts(segment, steps, start, end) - start
    if keep.size == len(values):            # one segment: the arrays as they are, no copy
        return Windows(values, missing_w, usable, segment[start:end - steps + 1])
    if keep.size == 0:
        raise ValueError(f"no segment in rows [{start}, {end}) is long enough for a window of {steps} steps")
    return Windows(np.ascontiguousarray(values[keep]), np.ascontiguousarray(missing_w[keep]), usable[keep],
                   segment[keep + start])


def window_arrays(z: np.ndarray, missing: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of `steps` consecutive rows (agent.window.sliding_windows), as contiguous
    float32 (n - T + 1, T, N) values and missing (1 = missing)."""
    vw, mw = sliding_windows(z, missing, steps)
    return np.ascontiguousarray(vw, np.float32), np.ascontiguousarray(mw, np.float32)


def pack_rows(z: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Normalised rows as float16 with NaN for missing: compact enough to ship inside a bundle."""
    return np.where(missing, np.nan, z).astype(np.float16)


def unpack_rows(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z float32 with 0 where missing, missing bool) from pack_rows output."""
    missing = np.isnan(packed)
    return np.where(missing, 0.0, packed).astype(np.float32), missing
