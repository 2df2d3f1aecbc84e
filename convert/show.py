"""`stad-convert inspect` and `verify`: a bundle's manifest and parity figures, readably.

Imports no torch: `inspect` works on a gateway without the `convert` extra."""
from __future__ import annotations

import datetime as dt

from agent.bundle import Bundle
from agent.records import read_without_text, split_read_without
from agent.simulate_csv import DAY_S

from .stopped_stretches import stretch_text


def _short(values: dict, digits: int = 3, per_line: int = 6) -> list[str]:
    items = [f"{k}={v:.{digits}g}" for k, v in values.items()]
    return ["    " + "  ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]


def describe(bundle: Bundle) -> str:
    m = bundle.manifest
    model = m.model or {}
    lines = [
        f"bundle      {bundle.path}",
        f"model_id    {m.model_id}   (format {m.format_version}, created {m.created_at or '?'})",
        f"window      {m.steps} steps × {len(m.sensors)} sensors, tick {m.tick_s} s",
        f"model       {model.get('architecture', '?')}: d_model {model.get('d_model')}, heads {model.get('heads')}, "
        f"ff_hidden {model.get('ff_hidden')}, {model.get('parameters')} parameters, topology {model.get('topology')}",
        "sensors     " + ", ".join(m.sensors),
        "inputs      " + "; ".join(f"{i.name} {i.shape} {i.dtype}" for i in m.inputs or []),
        "outputs     " + "; ".join(f"{o.name} {o.shape} {o.dtype}" for o in m.outputs or []),
        "normalisation mean:", *_short(m.normalisation.mean),
        "normalisation std:", *_short(m.normalisation.std),
        "residual_std (score scale):", *_short(m.residual_std),
    ]
    t = m.threshold
    lines.append(f"threshold   {t['value']:.3f} ({t.get('method')}, risk {t.get('risk')}, "
                 f"init {t.get('init_threshold', float('nan')):.3f} at q{t.get('init_quantile')}, "
                 f"{t.get('n')} calibration ticks)")
    lines += _part("training", _training_lines, m.training)
    lines += _part("data", lambda data: data_lines(data, m.tick_s), m.data)
    lines.append("artifacts:")
    for kind, a in m.artifacts.items():
        q = a.quantization or {}
        lines.append(f"  {kind:<12} {a.file:<20} {a.bytes:>8} B  sha256 {a.sha256[:16]}…  {q.get('recipe', '')}")
    for name, f in m.files.items():
        lines.append(f"  {'(file)':<12} {name:<20} {f.bytes:>8} B  sha256 {f.sha256[:16]}…")
    lines += _part("parity", _parity_lines, m.parity)
    return "\n".join(lines)


#: What reading a free-form part written in another form raises (a hand edit, another tool, a flipped bit).
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def _part(name: str, lines_of, part) -> list[str]:
    """`lines_of(part)`, or one line saying `part` is not in the form this converter writes. training, data
    and parity are kept as the plain JSON they were written as (the agent reads none of them): one in
    another form ended `inspect` with a traceback (qa37); the bundle's other parts still print."""
    try:
        return lines_of(part)
    except _UNREADABLE as exc:
        why = f"{type(exc).__name__}: {exc}"
        return [f"{name:<12}(not in the form this converter writes — {why[:160]}; `inspect --json` shows it)"]


def _training_lines(tr: dict | None) -> list[str]:
    if not tr:
        return []
    return [f"training    {tr['epochs_run']} epochs (best {tr['best_epoch']}), val MSE {tr['val_mse_model']:.4f} "
            f"vs repeat-last {tr['val_mse_naive_repeat_last']:.4f}, {tr['seconds']} s"]


def _parity_lines(p: dict | None) -> list[str]:
    if p is None:
        return []
    perturbed = f" + {p['perturbed_windows']} with anomaly-like context" if "perturbed_windows" in p else ""
    return [f"parity      {p['windows']} windows ({p['held_out_windows']} held out + {p['spiked_windows']} "
            f"with a spike{perturbed}), threshold {p['threshold']:.3f}, "
            f"{'PASSED' if p.get('passed') else 'FAILED'} (int8 agreement ≥ {p['min_int8_agreement']})",
            *("  " + row for row in parity_table(p).splitlines())]


def data_lines(data: dict | None, tick_s: float | None = None) -> list[str]:
    """What the bundle was trained on: the sources, the ticks of each part, each recording's
    segment(s), the sensors missing on some ticks, the records rejected. Printed by `train` once the
    bundle is written and by `inspect`, so that a file left out, a sensor blank in one file of a
    folder or a column that never matched shows before the bundle is deployed. With `tick_s`, a time split of
    recordings a day long says which hours of the day validated and tested it (user33: one recorded day trained
    and verified with no word that its threshold saw the evening alone; docs/converter.md said so, train did not)."""
    if not data or "split" not in data:
        return []
    sp = data["split"]
    parts = ", ".join(f"{part} {sp[part][1] - sp[part][0]}" for part in ("train", "validation", "test"))
    def sim(s: dict) -> str:       # each simulate source's own seed: several seeds are one source each
        return f" ({data['days']:g} days, seed {s.get('seed')})" if "days" in data else ""
    sources = "; ".join(f"{s.get('type')} {s.get('path') or ''}".rstrip() + (sim(s) if s.get("type") == "simulate" else "")
                        for s in data.get("sources", []))
    lines = [f"data        {sp['rows']} ticks ({parts}) from {sources or '?'}"]
    if data.get("split_by") == "recording":
        lines.append("  split by recording: the newest whole for test, the one before it for validation "
                     "(every hour of a day in each; --split time for 70/15/15 of each)")
    for seg in data.get("segments") or []:
        start = dt.datetime.fromtimestamp(seg["first_ts"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        # A part's labelled rows are no normal target: a late anomaly fills a recording's validation part,
        # and the threshold then rests on the other recordings (user10: `validation 180`, all 180 labelled).
        labelled = seg.get("labelled") or {}
        parts_of = ", ".join(f"{part} {seg[part]}" + (f" ({labelled[part]} labelled)" if labelled.get(part) else "")
                             for part in ("train", "validation", "test") if "part" not in seg or seg["part"] == part)
        parts_of += ", whole" if "part" in seg else ""
        lines.append(f"  {seg['recording']:<24} {seg['rows']:>7} ticks from {start} UTC ({parts_of})")
    lines += day_split_lines(data, tick_s)
    missing = sorted(((v, k) for k, v in (data.get("missing_share") or {}).items() if v >= 0.0005), reverse=True)
    if missing:
        lines.append("  missing on: " + ", ".join(f"{k} {100 * v:.1f} %" for v, k in missing)
                     + " of the ticks (no reading, or older than window.carry_forward_s; the model masks them)")
    for stretch in data.get("off_levels") or []:     # a stopped weekend trained as normal running (user38)
        lines.append("  off its usual levels: " + stretch_text(stretch))
    dropped, read_without = split_read_without(data.get("rejected") or {})
    if dropped:
        lines.append("  rejected while reading: " + ", ".join(f"{n} {why}" for why, n in dropped.items()))
    if read_without:        # its rows were read: not a reject in words (user32)
        lines.append("  " + read_without_text(read_without))
    return lines


def day_split_lines(data: dict, tick_s: float | None) -> list[str]:
    """For a time split (70/15/15 of each recording) of recordings a day long or more: the hours of the day the
    first one's validation and test parts cover, which every such day repeats."""
    segments = [seg for seg in data.get("segments") or [] if "part" not in seg and "first_ts" in seg]
    if not tick_s or data.get("split_by") == "recording" or not segments:
        return []
    seg = segments[0]
    if seg["rows"] * tick_s < 0.9 * DAY_S:
        return []

    def clock(rows: int) -> str:
        return dt.datetime.fromtimestamp(seg["first_ts"] + rows * tick_s, dt.timezone.utc).strftime("%H:%M")
    val, test = seg["train"], seg["train"] + seg["validation"]
    if seg["rows"] * tick_s >= 2 * DAY_S:     # a week's export: its parts are days of it, not hours of each day
        def when(rows: int) -> str:
            at = dt.datetime.fromtimestamp(seg["first_ts"] + rows * tick_s, dt.timezone.utc)
            return at.strftime("%a %Y-%m-%d %H:%M")
        return [f"  split by time: validation is {'the' if len(segments) == 1 else 'each'} recording's 70–85 % — of "
                f"{seg['recording']} {when(val)} to {when(test)} UTC, and test to {when(seg['rows'])}: the threshold "
                "never saw its other days — with 4 recordings of a day or more, --split auto validates and tests on "
                "whole recordings"]
    days = "this day's" if len(segments) == 1 else "each day's"
    return [f"  split by time: validation is {days} {clock(val)}–{clock(test)} UTC and test {clock(test)}–"
            f"{clock(seg['rows'])} (of {seg['recording']}): the threshold never saw the other hours of the day — "
            "with 4 recordings of a day or more, --split auto validates and tests on whole days"]


def parity_table(parity: dict) -> str:
    """One row per artifact: size, error and agreement over all windows, agreement per group, latency."""
    groups = list(parity.get("groups", {}))         # in verify's order (calm, spiked, perturbed)
    head = "".join(f" {'agree ' + g[:4]:>10}" for g in groups)
    rows = [f"{'artifact':<12} {'bytes':>8} {'max err':>9} {'rms err':>9} {'score r':>8} {'agree':>7}{head} "
            f"{'p50 ms':>8} {'p99 ms':>8}",
            f"{'pytorch':<12} {'':>8} {'':>9} {'':>9} {'':>8} {'':>7}{' ' * (11 * len(groups))} "
            f"{parity['pytorch']['latency_ms_p50']:>8.3f} {parity['pytorch']['latency_ms_p99']:>8.3f}"]
    for kind in ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"):
        f = parity.get(kind)
        if f:
            per_group = "".join(f" {f['groups'][g]['alert_agreement']:>10.4f}" for g in groups if g in f.get("groups", {}))
            rows.append(f"{kind:<12} {f['bytes']:>8} {f['forecast_max_abs_error']:>9.5f} {f['forecast_rms_error']:>9.5f} "
                        f"{f['score_correlation']:>8.5f} {f['alert_agreement']:>7.4f}{per_group} "
                        f"{f['latency_ms_p50']:>8.3f} {f['latency_ms_p99']:>8.3f}")
    return "\n".join(rows)
