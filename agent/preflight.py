"""What `run` needs from the machine, checked before anything starts (and by `check-config`).

A config can be well-formed and still unusable here: a replay (or warm-up recording) file that is
not there, a bundle's trusted key that cannot be read, a bundle that is missing or built for other sensors, a secret whose environment variable is unset, a
state directory that cannot be written, a bind address this host does not have, a source whose
optional extra is not installed. Each is a config problem: reported with its key path, exit 2,
never a traceback or exit 1 from `run`, and never a silent fall-back (a missing bundle must not
quietly score with numpy).

`problems(cfg)` returns 'key.path: message' lines, empty when `run` can start. Each source and
sink config checks its own needs in `preflight(resolve)` (next to its code), with the questions
agent/host_checks.py asks of this host (a path, a directory, a port, a credential); this module adds
the core's (state_dir, scoring) and the plugins' optional extras.
A message that is a `Note` is no problem but something this shell cannot check (a key only the
service's user may read), or a setting `run` takes that will not do what it looks like (a source's
`tick_notes`: a device asked to send less often than a tick): `check(cfg)` returns the notes apart, and
check-config prints them, so that an "ok" never hides a file nobody looked at.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .host_checks import (Note, ReadOnlyFs, memory_bytes, path_problems, resolved_ipv4, unit_hides,
                          writable_dir_problems)
from .records import shorten, span

if TYPE_CHECKING:
    from .config import AgentConfig

Resolve = Callable[[str], Path]


def problems(cfg: AgentConfig) -> list[str]:
    return check(cfg)[0]


def check(cfg: AgentConfig) -> tuple[list[str], list[str]]:
    """('key.path: message' problems, 'key.path: message' notes)."""
    from .sinks import plugin as sink_plugin
    from .sources import plugin as source_plugin
    found: list[tuple[str, str]] = [("state_dir", m) for m in writable_dir_problems(cfg.resolve(cfg.state_dir))]
    found += [("state_dir", m) for m in reserve_notes(cfg) + in_use_notes(cfg)]
    for i, src in enumerate(cfg.sources):
        found += [(_join(f"sources[{i}]", key), msg)
                  for key, msg in _extra(source_plugin(src.TYPE), "source") or src.preflight(cfg.resolve)]
        found += [(_join(f"sources[{i}]", key), Note(msg)) for key, msg in src.tick_notes(cfg.tick_s)]
    found += label_column_problems(cfg)
    from .config_clashes import as_resolved, entries_twice, shared_listeners
    found += shared_listeners(cfg.sources, address=resolved_ipv4)
    found += entries_twice(cfg.sources, cfg.sinks, path=as_resolved(cfg.resolve))
    found += column_notes(cfg)
    found += unfed_sensor_notes(cfg)
    if cfg.warmup.replay:
        found += [("warmup.replay", m) for m in path_problems(cfg.resolve(cfg.warmup.replay))
                  or warmup_problems(cfg) or [replay_note(cfg), *_warmup_column_notes(cfg)]]
    found += memory_problems(cfg)
    found += _scoring(cfg)
    found += _clock_scale(cfg)
    if cfg.metrics is not None:
        found += [(_join("metrics", key), msg) for key, msg in cfg.metrics.preflight(cfg.resolve)]
    for i, sink in enumerate(cfg.sinks):
        found += [(_join(f"sinks[{i}]", key), msg)
                  for key, msg in _extra(sink_plugin(sink.TYPE), "sink") or sink.preflight(cfg.resolve)]
    return ([(ReadOnlyFs if isinstance(msg, ReadOnlyFs) else str)(f"{path}: {shorten(msg, 300)}")
             for path, msg in found if not isinstance(msg, Note)],
            [f"{path}: {shorten(msg, 300)}" for path, msg in found if isinstance(msg, Note)])


def degraded(found: list[str]) -> tuple[list[str], list[str]]:
    """(what `run` refuses, what it starts degraded on) of `check`'s problems: a path on a read-only file system
    (ReadOnlyFs: the state directory, a sink's file) is no refusal when it is the only kind of problem — `run` starts
    and runs degraded on it (review42: agent/read_only_state.py; a sink counts the writes it loses) — and with any
    other problem beside it everything is refused, as before. One rule for `run`, `check-config` and a SIGHUP's
    word on a changed file: check-config refused (exit 2) what `run` started on (qa49)."""
    if found and all(isinstance(p, ReadOnlyFs) for p in found):
        return [], list(found)
    return list(found), []


def memory_problems(cfg: AgentConfig) -> list[tuple[str, str]]:
    """The warm-up's rows are held until its fit, room for `warmup.ticks` of them made at the start (agent/warmup.py
    WarmupRows): more than this host's memory and swap, and `run` failed at every start (`Agent()`: MemoryError,
    exit 1) after check-config said ok (review38).
    The fault rules' flatline ring likewise (`faults.flatline_s` / tick_s rows, made at the start: at 1-ms ticks
    30 days is 2.6 billion rows; review39)."""
    from .warmup import WarmupRows
    sensors, have = len(cfg.sensor_names()), memory_bytes()
    if have is None:
        return []
    found = []
    need = cfg.warmup.ticks * WarmupRows.row_bytes(sensors)
    if need > have:
        found.append(("warmup.ticks", f"{cfg.warmup.ticks:,} ticks of {sensors} sensors are {need / 2**30:,.1f} GiB "
                                      f"held until the warm-up's fit, more than this host's {have / 2**30:,.1f} GiB of "
                                      "memory and swap: `run` could not start; warm up on fewer ticks"))
    ring = cfg.faults.flatline_ring_bytes(cfg.tick_s, sensors)
    if ring > have:
        found.append(("faults.flatline_s", f"{cfg.faults.flatline_s:g} s at tick_s {cfg.tick_s:g} is "
                                           f"{cfg.faults.flatline_ticks(cfg.tick_s):,} ticks of {sensors} sensors, "
                                           f"{ring / 2**30:,.1f} GiB held for the flatline rule, more than this host's "
                                           f"{have / 2**30:,.1f} GiB of memory and swap: `run` could not start; "
                                           "judge a flatline over a shorter time"))
    return found


def warmup_problems(cfg: AgentConfig) -> list[str]:
    """`warmup.replay` gives at least one reading of a sensor, read as `run` reads it (its first
    record is enough). A recording whose columns map to no sensor would warm up on 0 ticks, and the
    agent would warm up on live data as if the key were not there."""
    from .records import QuietRejects
    from .sources.replay import warmup_source
    from .sources.replay_files import folder_problems
    reader, read_as = cfg.warmup_reader()
    rejects = QuietRejects()        # said below when no reading came, else by the notes (user31: a bare line)
    source = warmup_source(cfg.resolve(cfg.warmup.replay), reader, cfg.sensor_names(), rejects,
                           base_dir=cfg.base_dir, tick_s=cfg.tick_s)
    try:
        if not source.files:
            return folder_problems(source.root, source.cfg.format, (source.files, source.unread))
        if next(iter(source.records()), None) is not None:
            return []
    finally:
        source.close()
    why = "; ".join(f"{reason} ×{n} (first: {shorten(rejects.first[reason][0], 80)}"
                    + (f" — {shorten(rejects.first[reason][1], 160)})" if rejects.first[reason][1] else ")")
                    for reason, n in rejects.counts.most_common(3)) or "no record in it"
    hint = "" if cfg.warmup.replay_format.given() else " (give warmup.replay_format the recording's own)"
    # How it was read before why: the message is cut at 300 characters, and a long path and rejected
    # row must not push out the keys that fix it (qa24).
    return [f"{source.root} gives no reading of any sensor to warm up on, read with {read_as}{hint}: {why}"]


def label_column_problems(cfg: AgentConfig) -> list[tuple[str, str]]:
    """A replay source's `label_columns` entry that no CSV file's header has (review21: `[anomally]`
    against SKAB's `anomaly` passed, and `evaluate` then skipped every file as unlabelled). An entry
    some files have passes: SKAB's anomaly-free recording has no label column. JSON-lines files
    carry labels per record, not in a header: not judged here."""
    from .sources.replay import ReplayConfig
    out: list[tuple[str, str]] = []
    for i, src in enumerate(cfg.sources):
        if not isinstance(src, ReplayConfig) or not src.label_columns or src.labels_file or not src.path:
            continue
        root = cfg.resolve(src.path)
        files = replay_csvs(root, src)
        if files is None:
            continue                    # path_problems, through the source's preflight, says why
        wanted, shown = set(src.label_columns), None
        for path, header in csv_headers(files, src):
            others = src.other_columns(header, cfg.sensor_names())
            if shown is None or (others and not shown[2]):     # shown: a header with other columns if any has
                shown = (path, header, others)
            wanted -= set(header)
            if not wanted:
                break
        if shown is None:
            continue
        path, header, others = shown
        name = path.relative_to(root).as_posix() if root.is_dir() else path.name
        for j, column in enumerate(src.label_columns):
            if column not in wanted:
                continue
            import difflib
            near = difflib.get_close_matches(column, others, n=1)
            out.append((f"sources[{i}].label_columns[{j}]",
                        f"{column!r} is in no header of the replay's {len(files)} CSV file(s)"
                        + (f" (did you mean {near[0]!r}?)" if near else "")
                        + f"; {name}'s columns besides the time and the sensors': "
                        + (", ".join(repr(c) for c in others) or "none")
                        + f" (its header: {src.separator.join(header)})"))
    return out


def column_notes(cfg: AgentConfig) -> list[tuple[str, str]]:
    """Each replay source's `columns` entries that no CSV file of its path has in its header."""
    from .sources.replay import ReplayConfig
    return [(f"sources[{i}]", note) for i, src in enumerate(cfg.sources)
            if isinstance(src, ReplayConfig) and src.path and not src.labels_file
            for note in unmatched_columns(cfg.resolve(src.path), src, cfg.sensor_names())]


def unfed_sensor_notes(cfg: AgentConfig) -> list[tuple[str, str]]:
    """A sensor in `sensors` that no source names, when every source says which sensors it carries (a replay's
    `columns`, Modbus registers, OPC UA nodes, MQTT topics; SourceConfig.carried): it never gets a reading.
    user21: a ninth sensor listed in `sensors` and mapped by no column passed check-config with "ok"; `run` then
    warned it "did not move in this warm-up" and `stad-convert train` refused it. A note, not a problem: `run`
    takes such a config. A feed whose records name their sensors (udp, stdin, a replay without `columns`, an mqtt
    '*' topic) may carry any sensor, and the simulator carries every one: no note then."""
    from .sources.simulate import SimulateConfig
    if not cfg.sources or any(isinstance(src, SimulateConfig) for src in cfg.sources):
        return []
    carried = [src.carried() for src in cfg.sources]
    if any(others for _, others in carried):
        return []
    named = {sensor for sensors, _ in carried for sensor in sensors}
    maps = sorted({key.split(".")[0] for src in cfg.sources for key, _ in src.sensor_refs()})
    where = " and ".join(f"sources[{i}] ({src.label()})" for i, src in enumerate(cfg.sources))
    return [(f"sensors[{i}]", Note(f"no source gives {name} a reading: {where} reads only the sensors its "
                                   + "/".join(f"`{m}`" for m in maps) + " name, and none names it — it is "
                                   "missing from the first tick, and `stad-convert train` refuses it; map it in a "
                                   "source, or leave it out of `sensors`"))
            for i, name in enumerate(cfg.sensor_names()) if name not in named]


def _warmup_column_notes(cfg: AgentConfig) -> list[Note]:
    """`warmup.replay`'s column notes (unmatched_columns, unrecorded_sensors) on its files' headers, read once."""
    root, reader, sensors = cfg.resolve(cfg.warmup.replay), cfg.warmup_reader()[0], cfg.sensor_names()
    headers = replay_headers(root, reader)
    return [*unmatched_columns(root, reader, sensors, headers), *unrecorded_sensors(reader, sensors, headers)]


def replay_headers(root: Path, reader) -> list[tuple[Path, list[str]]] | None:
    """(path, header) of each CSV file a replay reads under `root` whose header can be read (csv_headers); None
    when the files cannot be listed (path_problems says why)."""
    files = replay_csvs(root, reader)
    return None if files is None else list(csv_headers(files, reader))


_READ = object()    # (unmatched_columns: the headers not read yet)


def unmatched_columns(root: Path, reader, sensors: list[str], headers=_READ) -> list[Note]:
    """A `columns` entry (CSV column → sensor) in no header of the CSV files under `root` read as `reader`
    reads them: its sensor gets no reading from them. user10: `Volume Flow Rate: flow` for SKAB's
    `Volume Flow RateRMS` passed check-config with "ok" under one `rejected … missing column` line; the
    warm-up then said flow "did not move" and told the user to warm up over data in which it moves. A
    note, not a problem: `run` takes such a config (the sensor may come from another source). Without
    `columns`: the files whose header maps no sensor at all (ReplayConfig.sensor_columns), which `run` rejects
    whole (`no sensor columns`) — check-config said ok (review32). `headers`: replay_headers(root, reader), when
    read already."""
    if reader.columns is not None and not reader.columns:
        return []
    if headers is _READ:
        headers = replay_headers(root, reader)
    if headers is None:
        return []                       # path_problems says why
    twice = _twice_named(root, reader, sensors, headers)
    if reader.columns is None:
        return twice + _unmapped_files(root, reader, sensors, headers)
    named = headers
    headers = [h for _, h in headers]
    if not headers:
        return []
    seen = {c for h in headers for c in h}
    out = twice + _partly_headed(root, reader.columns, named)
    import difflib
    for column, sensor in reader.columns.items():
        if column in seen:
            continue
        near = difflib.get_close_matches(column, sorted(seen), n=1)
        out.append(Note(f"column {column!r} (sensor {sensor}) is in no header of its {len(headers)} CSV file(s)"
                        + (f" (did you mean {near[0]!r}?)" if near else "")
                        + f": {sensor} gets no reading from {root}"))
    return out


def _partly_headed(root: Path, columns: dict[str, str], headers: list[tuple[Path, list[str]]]) -> list[Note]:
    """A `columns` entry that some CSV files' headers have and others' not (`headers`: each (path, header) under
    `root`): the others give its sensor no reading. user31: a sensor added on the third of four daily exports passed
    check-config with "ok", said nothing of the first two days; `run` logged `rejected …: missing column` per file
    and train said the sensor's column was "blank" there."""
    out = []
    for column, sensor in columns.items():
        without = [p for p, h in headers if column not in h]
        if not without or len(without) == len(headers):
            continue                    # in every header, or in none (said below as such)
        names = [p.relative_to(root).as_posix() if root.is_dir() else p.name for p in without]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(Note(f"column {column!r} (sensor {sensor}) is in {len(headers) - len(without)} of its "
                        f"{len(headers)} CSV file(s)' headers, not in {shown}: their ticks give {sensor} no reading "
                        "(a sensor added since: training masks it there; a column renamed since: give those files' "
                        "header its new name)"))
    return out


def unrecorded_sensors(reader, sensors: list[str], headers: list[tuple[Path, list[str]]] | None) -> list[Note]:
    """The sensors of `sensors` that no CSV file of `headers` (replay_headers: the files under `warmup.replay`, read
    as `reader` reads them) gives a column. user27 added a 13th station to a corridor warmed up on recordings of the first 12: check-config
    said ok, and `run` then warned each new sensor "did not move in this warm-up". A note, not a problem: `run`
    takes such a config (a `columns` entry naming a column no header has is `unmatched_columns`' note)."""
    if reader.columns is not None and not reader.columns or headers is None:
        return []
    headers = [h for _, h in headers]
    if not headers:
        return []
    fed = {sensor for h in headers for column, sensor in reader.sensor_columns(h, sensors).items()
           if reader.columns is None or column in h}
    missing = [name for name in sensors if name not in fed]
    if not missing or len(missing) == len(sensors):
        return []                       # none at all: warmup_problems refuses it
    named = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return [Note(f"{len(missing)} of the {len(sensors)} sensors have no column in its {len(headers)} CSV file(s) "
                 f"({named}): no normal is learned for them, `run` scores them once learnt live (a station added "
                 "since the recordings?); warm up on recordings that hold them, or on live ticks (no warmup.replay)")]


def _twice_named(root: Path, reader, sensors: list[str], headers: list[tuple[Path, list[str]]]) -> list[Note]:
    """One note for the CSV files whose header names a column the replay reads twice (ReplayConfig.columns_twice),
    which `run` skips whole (`duplicate column`)."""
    twice = [(p, said) for p, h in headers if (said := reader.columns_twice(h, sensors))]
    if not twice:
        return []
    path, said = twice[0]
    name = path.relative_to(root).as_posix() if root.is_dir() else path.name
    return [Note(f"{len(twice)} of its {len(headers)} CSV file(s) have a header naming a column it reads more than "
                 f"once (first: {name}: {said}): each is skipped whole (duplicate column); rename one of them")]


def _unmapped_files(root: Path, reader, sensors: list[str], headers: list[tuple[Path, list[str]]]) -> list[Note]:
    """One note for the CSV files (`headers`: each (path, header), under `root`) whose header maps no sensor
    without `columns`."""
    unmapped = [(p, h) for p, h in headers if not set(reader.sensor_columns(h, sensors)) & set(h)]
    if not unmapped:
        return []
    path, header = unmapped[0]
    name = path.relative_to(root).as_posix() if root.is_dir() else path.name
    from .sources.replay_lines import COMMENT_MARKS
    advice = "name their columns' sensors in `columns`"
    if header and header[0].lstrip().startswith(COMMENT_MARKS):
        # the replay takes a file's first line that is not blank for its header: a comment above it is no header
        # `columns` could map (convert6: the converter's refusal says the same)
        advice = "its first line that is not blank is read as the header: remove the comment line(s) above the header"
    return [Note(f"{len(unmapped)} of its {len(headers)} CSV file(s) have a header that maps no sensor (first: {name}: "
                 f"{reader.separator.join(header)}): each is rejected whole (no sensor columns); {advice}")]


def replay_csvs(root: Path, reader) -> list[Path] | None:
    """The CSV files a replay source (or the warm-up's reader) reads under `root`; None when it cannot be
    listed (path_problems says why)."""
    from .sources.replay_files import walk_replay
    try:
        return [p for p in walk_replay(root, reader.format)[0] if p.suffix.lower() == ".csv"]
    except OSError:
        return None


def csv_headers(files: list[Path], reader):
    """(path, header) of each of `files` whose header can be read, as `reader` reads it (csv_header)."""
    for path in files:
        header = csv_header(path, reader.separator)
        if header is not None:
            yield path, header


def csv_header(path: Path, separator: str) -> list[str] | None:
    """A CSV file's header as the replay reads it (replay_lines.first_header over its lines read as the replay reads
    them: each on its own, a BOM dropped, fields stripped); None when it cannot be read."""
    from .sources.replay_lines import bounded_lines, csv_fields, first_header

    def rows(f):
        for n, line in enumerate(bounded_lines(f, lambda n: None), 1):
            try:
                yield n, csv_fields(line, separator)
            except ValueError:
                yield n, None
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            found = first_header(rows(f))
    except OSError:
        return None
    return None if found is None else [c.strip() for c in found[1]]


def replay_note(cfg: AgentConfig) -> Note:
    """What `run` takes of `warmup.replay` (agent/warmup.py read_replay): its newest ticks, at most the bound."""
    from .warmup import replay_limit
    limit, why = replay_limit(cfg.warmup, len(cfg.sensor_names()))
    return Note(f"run warms up on the newest {limit:,} ticks of it at most ({span(limit * cfg.tick_s)}; {why}), "
                "its files read newest first (name order is time order): earlier ticks are skipped, earlier files "
                "not read, and its start line says what it used")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if key else path


def _extra(plugin, kind: str) -> list[tuple[str, str]]:
    """The plugin's optional library is importable here (its probe), or one problem saying what to install."""
    try:
        if plugin.probe is not None:
            plugin.probe()
    except ImportError as exc:
        return [("type", f"{kind} '{plugin.type}' cannot be used here: {exc} "
                         f"(install the '{plugin.type}' extra: pip install 'stad-edge[{plugin.type}]')")]
    return []


def _scoring(cfg: AgentConfig) -> list[tuple[str, str]]:
    from . import bundle as bundles
    out: list[tuple[str, str]] = []
    if cfg.scoring.bundle_keys:
        from .signing import key_problems
        out += [(f"scoring.bundle_keys[{i}]", p)
                for i, p in key_problems([cfg.resolve(k) for k in cfg.scoring.bundle_keys])]
    if cfg.scoring.bundle and not out:      # without usable keys it cannot be verified: said once, above
        try:
            # with its declared inputs / outputs: one that lacks `values` or `forecast` passed here, and each tier
            # refused it at the start — numpy alone, exit 0 (chaos3). The code a hot swap's candidate meets (qa44).
            from .scorers.model_scorer import load_fitting
            loaded = load_fitting(cfg.scoring.bundle, cfg.base_dir, bundles.Expectation.from_config(cfg))
        except bundles.BundleError as exc:
            hidden = "" if cfg.scoring.bundle.startswith(bundles.BUILTIN_PREFIX) or cfg.resolve(cfg.scoring.bundle).exists() \
                else unit_hides(cfg.resolve(cfg.scoring.bundle))
            out.append(("scoring.bundle", f"{exc}{hidden} (the agent would only have the numpy fallback)"))
        else:
            note = bundles.parity_note(loaded, _installed_artifacts(cfg.scoring.chain, loaded))
            if note:
                out.append(("scoring.bundle", Note(note)))
            note = _profile_day_note(cfg)
            if note:
                out.append(("scoring.profile", note))
            note = _no_runtime_note(cfg.scoring.chain)
            if note:
                out.append(("scoring.bundle", note))
            else:
                out += [("scoring.chain", n) for n in _missing_runtime_notes(cfg.scoring.chain)]
    if cfg.scoring.models_dir:
        # It may be created later (a bundle is delivered into it): only something else in its place is wrong.
        path = cfg.resolve(cfg.scoring.models_dir)
        if path.exists() and not path.is_dir():
            out.append(("scoring.models_dir", f"{path} is not a directory"))
    return out


def _profile_day_note(cfg: AgentConfig) -> Note | None:
    """The model tier's normal profile (on by default beside a bundle since skab32) is the warm-up's normal: a
    warm-up shorter than a day holds one part of a daily cycle, and on the corridor a 4-hour night warm-up made
    the tier alarm all day (corridor15). Which plants follow the clock cannot be read from a config, so this is
    said whenever the profile is on and the warm-up given in ticks spans less than a day (a `warmup.replay`
    recording's span is not read here); a warm-up too short to fit a profile at all is said as that instead."""
    if not cfg.scoring.profile.enabled or cfg.warmup.replay:
        return None
    from .scorers.profile import ticks_to_fit, too_few
    few = too_few(cfg.scoring.profile, cfg.window.steps, cfg.warmup.ticks, "warm-up ticks") \
        if cfg.warmup.counts == "ticks" else None
    if few:     # (user40: it said the normal is fitted on it)
        return Note(f"no normal profile is fitted on the warm-up: {few}; the model tier scores its forecast error "
                    f"alone against its bundle's own threshold (warmup.ticks "
                    f"{ticks_to_fit(cfg.scoring.profile, cfg.window.steps)} or more fits one)")
    warm = cfg.warmup.ticks * cfg.tick_s
    if warm >= 86400:
        return None
    rows = ", at least" if cfg.warmup.counts == "rows" else ""
    return Note(f"the model tier's normal is fitted on the warm-up ({span(warm)}{rows}): if this plant follows the "
                "clock (traffic, shifts), warm up over a day (warmup.ticks or warmup.replay) or set "
                "profile.enabled: false and blend_numpy: 0 (as configs/roadside.yaml)")


def _installed_artifacts(chain: list[str], loaded: bundles.Bundle) -> list[str]:
    """The bundle's artifacts this gateway's chain runs: those of its model tiers whose runtime is installed here
    (an artifact kind is named by its runtime: onnx_fp32 → onnx), found without importing it."""
    from .scorers import runtimes
    here = {t for t in chain if t != "numpy" and t in runtimes() and runtimes()[t].installed()}
    return [k for k in loaded.artifact_kinds() if k.split("_")[0] in here]


def _no_runtime_note(chain: list[str]) -> Note | None:
    """A bundle that no installed runtime of the chain can run: `run` scores with the numpy fallback
    only (the chain's step-down, said in its log: no problem), while check-config said a bare `ok` —
    a gateway installed with `pip install -e .` alone (review19)."""
    from .scorers import runtimes
    tiers = [t for t in chain if t != "numpy"]
    if not tiers or any(runtimes()[t].available() for t in tiers):
        return None
    extras = " or ".join(f"'stad-edge[{t}]'" for t in tiers)
    return Note(f"no runtime of the chain's model tiers ({', '.join(tiers)}) is installed here: run would score "
                f"with the numpy fallback only (install one: pip install {extras})")


def _missing_runtime_notes(chain: list[str]) -> list[Note]:
    """One note per model tier of the chain whose runtime is not installed here, while another's is: `run` leaves
    it out at start ("scorer onnx not available", found without importing it when the tier would be on standby:
    agent/scorers/standby.py), so a fault of the tier above steps down past it. Found on the import path
    (Plugin.installed), not imported: `run` checks this too, and must not load a runtime for a standby tier
    (a library installed but broken is said when the tier is loaded). Before standby tiers (perf50) `run`
    said so at start and check-config nothing; with them, a standby's missing library was said only at the
    fault that needed it (swap3)."""
    from .scorers import runtimes
    return [Note(f"the {t} tier's runtime is not installed here: run leaves it out of the chain, the tiers after "
                 f"it in its place (install it: pip install 'stad-edge[{t}]')")
            for t in chain if t != "numpy" and not runtimes()[t].installed()]


def _clock_scale(cfg: AgentConfig) -> list[tuple[str, str]]:
    """When the clock's scale (threshold.clock_scale_*) first acts: once every bin has seen
    MIN_CYCLES periods of scores, the warm-up's included (agent/clock_scale.py). Said when that is
    later than the end of warm-up, so an evaluation shorter than it does not read as the option's
    figure (on the corridor bench's 1 + 2 days it acts on the last day only)."""
    from .clock_scale import MIN_CYCLES
    warm = cfg.warmup.ticks * cfg.tick_s
    rows = " (at least: warmup.counts is rows)" if cfg.warmup.counts == "rows" else ""
    periods = {}                # the fallback's clock (threshold.numpy) said apart only with a period of its own
    for where, thr in cfg.clocks():
        periods.setdefault(thr.clock_scale_period_s, where)
    return [(f"{where}.clock_scale_period_s", Note(
        f"the clock's factor acts once every bin has seen {MIN_CYCLES} periods ({span(MIN_CYCLES * period)}) of "
        f"scores, the warm-up's ({span(warm)}{rows}) included: from about {span(MIN_CYCLES * period - warm)} "
        "after the end of warm-up (sooner when a checkpoint holds it), the threshold not scaled before"))
        for period, where in periods.items() if warm < MIN_CYCLES * period]


def reserve_notes(cfg: AgentConfig) -> list[Note]:
    """The files the agent reserves in state_dir at its start (agent/held_file.py: the MQTT outbox's
    held file, the journals' spares), so that a full disk later loses no alert event without a
    count: a note when the disk has no room left for those not made yet. `run` starts anyway (it
    says the same), but a kill -9 while that disk is full may then lose events uncounted."""
    from .checkpoint import FAULT_JOURNAL_FILE, JOURNAL_FILE, alert_spare_bytes, fault_spare_bytes
    from .held_file import HELD_FILE_BYTES
    state = cfg.resolve(cfg.state_dir)
    files = {f"{JOURNAL_FILE}.spare": alert_spare_bytes(len(cfg.sensor_names())),
             f"{FAULT_JOURNAL_FILE}.spare": fault_spare_bytes(len(cfg.sensor_names()))}
    if any(sink.TYPE == "mqtt" for sink in cfg.sinks):
        from .sinks.mqtt import OUTBOX_FILE
        files[f"{OUTBOX_FILE}.held"] = HELD_FILE_BYTES
    probe = state
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
        missing = {name: size - ((state / name).stat().st_size if (state / name).is_file() else 0)
                   for name, size in files.items()}
    except OSError:
        return []                       # writable_dir_problems says what is wrong with it
    need = sum(n for n in missing.values() if n > 0)
    free = st.f_bavail * st.f_frsize
    if need <= free:
        return []
    return [Note(f"{state} has {free // 1024} KiB free; the agent reserves {need // 1024} KiB there at its start "
                 f"({', '.join(f'{name} {n // 1024} KiB' for name, n in missing.items() if n > 0)}) so that a full "
                 "disk later loses no alert event without a count — free some room, or a kill -9 while it is full "
                 "may lose events uncounted")]


def in_use_notes(cfg: AgentConfig) -> list[Note]:
    """A note when another agent holds state_dir now: `run` would be refused (agent/statelock.py, exit 1), yet
    check-config's usual moment is beside the running service, so a note, not a problem (as a port in use)."""
    from .statelock import holder_now
    state = cfg.resolve(cfg.state_dir)
    pid = holder_now(state)
    if pid is None or pid == str(os.getpid()):
        return []
    return [Note(f"{state} is in use now by a running stad-agent (pid {pid}): run cannot start beside it — stop that "
                 "one first (systemctl restart, for the service), or give this config its own state_dir and node.id")]
