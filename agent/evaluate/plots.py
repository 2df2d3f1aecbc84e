"""Figures for `stad-agent evaluate --plot DIR` (matplotlib: the `plot` extra, imported lazily).

Per file: the sensors, then one panel per agent scorer with its score and threshold; true
label spans are shaded and alert spans marked in every panel. For scorers whose results
carry attention weights, one heat map per alert of temporal × spatial attention at its peak.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .metrics import runs


class PlotUnavailable(RuntimeError):
    pass


def pyplot_or_fail():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'stad-edge[plot]'") from exc
    return plt


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "data"


def label_spans(trace) -> list[tuple[float, float]]:
    """Labelled anomalies as (first labelled tick, last labelled tick).

    A tick no source row landed on (label −1) neither ends nor splits a span: SKAB's rows are not
    on an exact one-second grid, and splitting at every empty tick drew one span as many stripes.
    """
    known = np.nonzero(trace.labels >= 0)[0]
    return [(float(trace.ts[known[a]]), float(trace.ts[known[b - 1]]))
            for a, b in runs(trace.labels[known] > 0)]


def _shade(ax, trace, t0: float) -> None:
    for start, end in label_spans(trace):
        ax.axvspan((start - t0) / 60, (end - t0) / 60, color="tab:orange", alpha=0.2, lw=0)
    for start, end in trace.alert_spans:
        ax.axvspan((start - t0) / 60, (end - t0) / 60, ymin=0.0, ymax=0.06, color="tab:red", alpha=0.9, lw=0)
    if trace.train.any():
        ax.axvline((trace.ts[trace.train][-1] - t0) / 60, color="grey", ls=":", lw=1)


def plot_file(plt, traces: list, sensors: list[str], out: Path) -> Path:
    """One figure: sensors on top, then score + threshold for each trace (same file)."""
    first = traces[0]
    t0 = float(first.ts[0])
    minutes = (first.ts - t0) / 60
    fig, axes = plt.subplots(1 + len(traces), 1, figsize=(12, 2.2 * (1 + len(traces))), sharex=True,
                             squeeze=False)
    ax = axes[0, 0]
    with np.errstate(all="ignore"):
        mean = np.nanmean(first.values, axis=0)
        std = np.nanstd(first.values, axis=0)
    z = (first.values - mean) / np.where(std > 0, std, 1.0)
    for j, name in enumerate(sensors):
        ax.plot(minutes, z[:, j], lw=0.6, label=name)
    if len(sensors) <= 10:
        ax.legend(fontsize=6, ncol=min(5, len(sensors)), loc="upper left")
    ax.set_ylabel("sensors (z)")
    ax.set_title(f"{first.file} — shaded: labelled anomaly, red bars: alerts, dotted: end of training",
                 fontsize=9)
    _shade(ax, first, t0)
    for k, trace in enumerate(traces, 1):
        ax = axes[k, 0]
        ax.plot(minutes, trace.score, lw=0.7, color="tab:blue", label="score")
        ax.plot(minutes, trace.threshold, lw=0.9, color="black", ls="--", label="threshold")
        finite = trace.score[np.isfinite(trace.score)]
        if finite.size:
            ax.set_ylim(0, max(float(np.nanpercentile(finite, 99.5)) * 1.3,
                               float(np.nanmax(trace.threshold)) * 1.5 if np.isfinite(trace.threshold).any()
                               else 1.0))
        ax.set_ylabel(trace.scorer)
        ax.legend(fontsize=6, loc="upper left")
        _shade(ax, trace, t0)
    axes[-1, 0].set_xlabel("minutes from file start")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_attention(plt, trace, sensors: list[str], out_dir: Path) -> list[Path]:
    """Temporal × spatial attention (outer product of the two weight vectors) at each alert's peak."""
    paths = []
    for k, peak in enumerate(trace.attention):
        heat = np.outer(peak["time_weights"], peak["sensor_weights"])
        fig, ax = plt.subplots(figsize=(max(4, 0.4 * len(sensors) + 2), 4))
        im = ax.imshow(heat, aspect="auto", origin="lower", cmap="viridis")
        ax.set_xticks(range(len(sensors)))
        ax.set_xticklabels(sensors, rotation=90, fontsize=6)
        ax.set_ylabel("window step (oldest at 0)")
        ax.set_title(f"{trace.file} {trace.scorer}: attention at alert peak {k + 1}", fontsize=8)
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        path = out_dir / f"{_safe(trace.file)}.{trace.scorer}.attention{k + 1}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_all(traces: dict[str, list], plot_dir: str, sensors: list[str]) -> list[str]:
    """Write every figure; return their paths. Baselines are left out of the figures."""
    plt = pyplot_or_fail()
    out_dir = Path(plot_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    agent = {s: ts for s, ts in traces.items() if s not in BASELINES and ts}
    shown = agent or {s: ts for s, ts in traces.items() if ts}
    by_file: dict[str, list] = {}
    for scorer_traces in shown.values():
        for t in scorer_traces:
            by_file.setdefault(t.file, []).append(t)
    paths: list[Path] = []
    for name, file_traces in by_file.items():
        paths.append(plot_file(plt, file_traces, sensors, out_dir / f"{_safe(name)}.png"))
        for t in file_traces:
            paths += plot_attention(plt, t, sensors, out_dir)
    return [str(p) for p in paths]
