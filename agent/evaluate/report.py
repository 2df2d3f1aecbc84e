"""The evaluation report: a JSON document (schemas/evaluate_report.schema.json), a plain-text
table for the terminal and a one-page Markdown summary."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..alerts import iso
from ..json_safe import json_safe
from .baselines import BASELINES

if TYPE_CHECKING:
    from ..config import AgentConfig

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "evaluate_report.schema.json"

PROTOCOLS = {
    "skab": ("first 400 rows of every file (SKAB leaderboard protocol)", "the rest of every file"),
    "nab": ("probationary period: first 15 % of every file, at most 750 rows (NAB protocol)",
            "the rest of every file"),
    "warmup": ("the first warmup.ticks ticks (fit + threshold calibration)", "every tick after warm-up"),
}

NOTES = [
    "Point-wise metrics count every scored row; no point-adjust. "
    "point_adjusted_f1_for_comparison_only shows what that inflated protocol would report.",
    "Predictions are the agent's alerts, from the tick an alert was raised to its last tick above threshold; "
    "backdated_for_comparison_only counts them from their first tick above threshold instead (what the "
    "alert's start field says, not when anyone could know); pointwise_exceedance uses score > threshold "
    "per tick.",
    "NAB is counted on each file's rows (probation, windows, detections) as NAB's scorer does; detections "
    "are the rows where alerts were raised. swept_threshold_score is NAB's own protocol (one threshold over "
    "the corpus, chosen in hindsight with the labels) on the raw score and is optimistic.",
    "Baselines (random, rolling_z) use the same threshold and alert lifecycle as the agent; through it, random "
    "scores rarely raise an alert (near the null detector); its swept NAB figure is NAB's random detector. "
    "always alarms on every scored row.",
    "incidents_and_faults: with the simulator's labels, incident events and injected sensor faults are scored "
    "apart; an alert overlapping no incident is a false alarm, also when a sensor fault caused it; faults are "
    "detected by the agent's fault events (time to detect from the fault's start to the decision).",
]


def file_entry(f) -> dict:
    return {
        "name": f.name, "ticks": len(f.rows), "rows": int(f.observed.sum()), "train_ticks": f.train_ticks,
        "train_rows": int(f.observed[f.train].sum()), "scored_rows": int(f.scored.sum()),
        "anomalous_scored_rows": int(f.labels[f.scored].sum()),
        "train_from": iso(f.rows[0].ts), "train_until": iso(f.rows[f.train_ticks - 1].ts),
        "scored_from": iso(f.rows[f.train_ticks].ts), "scored_until": iso(f.rows[-1].ts),
    }


def build_report(cfg: AgentConfig, config_path, data_path, protocol: str, files, skipped, results: dict, runtimes: dict,
                 errors: dict, tolerance_s: float, elapsed_s: float) -> dict:
    training, scored = PROTOCOLS[protocol]
    scorers = []
    for name, metrics in results.items():
        kind = "baseline" if name in BASELINES else "agent"
        scorers.append({"name": name, "kind": kind, "runtime_s": runtimes.get(name, 0.0), **metrics})
    return json_safe({
        "schema_version": SCHEMA_VERSION,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "config": str(config_path) if config_path else None,
        "data": str(data_path) if data_path else None,
        "protocol": {"name": protocol, "training": training, "scored": scored},
        "tick_s": cfg.tick_s,
        "sensors": len(cfg.sensor_names()),
        "event_tolerance_s": tolerance_s,
        "files": [file_entry(f) for f in files],
        "skipped_files": list(skipped),
        "scorers": scorers,
        "errors": dict(errors),
        "notes": list(NOTES),
        "elapsed_s": elapsed_s,
    })


# ---- human-readable forms -----------------------------------------------------------------------

def _fmt(value, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def table_rows(report: dict) -> list[list[str]]:
    has_nab = any(s.get("nab") for s in report["scorers"])
    head = ["scorer", "F1", "prec", "recall", "AUC-PR", "FAR %", "MAR %", "events", "FA/sensor-day",
            "TTD med s"]
    if has_nab:
        head += ["NAB std", "NAB swept"]
    head += ["F1 back-dated", "PA-F1 (inflated)"]
    rows = [head]
    for s in report["scorers"]:
        p, ev = s["pointwise"], s["events"]
        row = [s["name"], _fmt(p["f1"]), _fmt(p["precision"]), _fmt(p["recall"]), _fmt(s["auc_pr"]),
               _fmt(s["skab"]["far_pct"], ".2f"), _fmt(s["skab"]["mar_pct"], ".2f"),
               f"{ev['events_detected']}/{ev['events_total']}", _fmt(ev["false_alarms_per_sensor_day"], ".2f"),
               _fmt(ev["ttd_median_s"], ".0f")]
        if has_nab:
            std = (s.get("nab") or {}).get("standard") or {}
            row += [_fmt(std.get("score"), ".1f"), _fmt(std.get("swept_threshold_score"), ".1f")]
        row += [_fmt(s["backdated_for_comparison_only"]["f1"]), _fmt(s["point_adjusted_f1_for_comparison_only"])]
        rows.append(row)
    return rows


def format_table(report: dict) -> str:
    rows = table_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p = report["protocol"]
    n_rows = sum(f["scored_rows"] for f in report["files"])
    head = (f"{len(report['files'])} file(s), {n_rows} scored rows; protocol {p['name']}: "
            f"train = {p['training']}; scored = {p['scored']}")
    if report["skipped_files"]:          # a folder whose files were half skipped is not silently smaller
        head += f"\nskipped {len(report['skipped_files'])} file(s): {', '.join(report['skipped_files'])}"
    tail = [f"error {k}: {v}" for k, v in report["errors"].items()]
    from .feedback_replay import over_time_lines
    return "\n".join([head, *lines, *incidents_and_faults_lines(report), *over_time_lines(report), *tail])


def incidents_and_faults_lines(report: dict) -> list[str]:
    """Incidents and sensor faults scored apart, per agent scorer (none on data without labels)."""
    from .faults import format_summary
    out = []
    for s in report["scorers"]:
        if s["kind"] == "agent" and s.get("incidents_and_faults"):
            out += format_summary(s["name"], s["incidents_and_faults"])
    return (["incidents and sensor faults apart (an alert driven by a faulty sensor is a false alarm):"] + out) \
        if out else []


def format_markdown(report: dict) -> str:
    rows = table_rows(report)
    p = report["protocol"]
    md = [
        "# stad-agent evaluate",
        "",
        f"- data: `{report['data']}`; config: `{report['config']}`",
        f"- {len(report['files'])} file(s), {sum(f['scored_rows'] for f in report['files'])} scored rows, "
        f"{report['sensors']} sensor(s), tick {report['tick_s']:g} s",
        f"- **training / calibration**: {p['training']}",
        f"- **scored**: {p['scored']}",
        f"- event detection tolerance after an event's end: {report['event_tolerance_s']:g} s",
    ]
    if report["skipped_files"]:
        md.append(f"- skipped: {', '.join(report['skipped_files'])}")
    md += ["", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    apart = incidents_and_faults_lines(report)
    if apart:
        md += ["", "## Incidents and sensor faults", "", "```", *apart, "```"]
    from .feedback_replay import over_time_lines
    over_time = over_time_lines(report)
    if over_time:
        md += ["", "## Replayed operator feedback", "", "```", *over_time, "```"]
    md += ["", "## How to read this", ""] + [f"- {n}" for n in report["notes"]]
    for k, v in report["errors"].items():
        md.append(f"- scorer `{k}` failed: {v}")
    return "\n".join(md) + "\n"


def summary_path(report_path: str | Path) -> Path:
    """Where the Markdown summary of the JSON report at `report_path` goes: beside it, its name ending in .md;
    ValueError when that is the report itself (review37: `--report results.md` wrote the JSON, then the summary
    over it — the report lost, the line after the table naming one file twice)."""
    path = Path(report_path)
    summary = path.with_suffix(".md")
    if summary == path:
        raise ValueError(f"{report_path}: the JSON report's name ends in .md, the name of its Markdown summary, which "
                         "is written beside it and would replace it: give the report another (e.g. "
                         f"{path.with_suffix('.json').name})")
    return summary


def write_outputs(report: dict, report_path: str | None) -> None:
    """The JSON report at report_path and the Markdown summary beside it (summary_path)."""
    if not report_path:
        return
    path = Path(report_path)
    summary = summary_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary.write_text(format_markdown(report), encoding="utf-8")
