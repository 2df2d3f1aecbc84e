"""perf74 (issue 16): the streaming form of the model (convert/stream.py) against the shipped artifact, per tick,
warm and cold, in one process.

The demo's tflite pipeline steps through the demo's ticks (as bench/scorer.py); after each tick, on that tick's
window, in a fresh random order, each path runs once — on even ticks warm (after nothing but the others), on odd
ticks each after an 8 MB sweep:

- shipped: the window copied into an interpreter of the shipped model_int8.tflite, its Invoke, the attention
  outputs copied (what the scorer's runtime call does when the window is not already in the tensors);
- shipped A/A: the same on a second interpreter of the same file;
- streaming: StreamRing.push of the row entering the context into the ring tensors of an interpreter of the
  streaming artifact, the newest context row into its two (1, N) inputs, its Invoke, the attention copies;
- the streaming artifact's Invoke alone (the ring as the last path left it): the floor of any ring bookkeeping;
- and the two copies alone (the window's 2 × T × N floats; one row's 2 × N): what any form that is fed one
  row a tick instead of the window could save at most.

The ring is checked against the window (refilled from it and compared) every 100 ticks, and the forecasts of
streaming and shipped compared every tick. JSON to --out; p50 per path, ratios to `shipped`.

    python bench/stream_ring.py --artifact /tmp/perf74/stream_int8.tflite [--ticks 1500] [--out F]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from machine import machine_info, percentiles_us  # noqa: E402
from table import DEMO_BUNDLE, demo_config, demo_rows  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402

SWEEP_BYTES = 8 << 20


def interpreter(path: Path):
    from agent.scorers.tflite import interpreter_class, native_info_to_log
    Interpreter, _ = interpreter_class()
    with native_info_to_log():
        it = Interpreter(model_content=path.read_bytes(), num_threads=1)
        it.allocate_tensors()
    runner = it.get_signature_runner()
    ins, outs = runner.get_input_details(), runner.get_output_details()
    views = {name: it.tensor(d["index"])() for name, d in {**ins, **outs}.items()}
    return it, views, it._interpreter.Invoke


def run(artifact: Path, ticks: int, log) -> dict:
    import torch

    from agent.bundle import load
    from convert.bundle_writer import load_model
    from convert.stream import StreamingForecaster, StreamRing
    work = Path(tempfile.mkdtemp(prefix="stad-bench-stream-"))
    cfg = from_dict(demo_config(["tflite", "numpy"], work), base_dir=str(ROOT))
    rows = demo_rows(cfg, cfg.warmup.ticks + cfg.window.steps + ticks)
    pipe = Pipeline(cfg)
    for row in rows[:-ticks]:
        pipe.step(row)
    scorer = pipe.chain.current
    if scorer.TYPE != "tflite":
        raise RuntimeError(f"the tflite tier did not load (the chain is on {scorer.TYPE})")
    window_v, window_m = scorer._values, scorer._missing             # the scorer's input tensors: this tick's window
    torch.set_num_threads(1)
    parts = StreamingForecaster(load_model(DEMO_BUNDLE, load(DEMO_BUNDLE).manifest).eval()).position_free()

    shipped_file = DEMO_BUNDLE / "model_int8.tflite"
    paths, outs, held = {}, {}, []                # held: the interpreters outlive their tensors' views
    for name in ("shipped", "shipped A/A"):
        it, views, invoke = interpreter(shipped_file)
        held.append(it)

        def call(views=views, invoke=invoke):
            np.copyto(views["values"], window_v)
            np.copyto(views["missing"], window_m)
            invoke()
            return views["forecast"], views["temporal_attention"].copy(), views["spatial_attention"].copy()
        paths[name], outs[name] = call, views
    it, sv, s_invoke = interpreter(artifact)
    held.append(it)
    ring = StreamRing(parts, sv["key_ring"], sv["value_ring"])
    ring.fill(window_v[0], window_m[0])
    newest_v, newest_m = sv["newest_values"][0], sv["newest_missing"][0]

    def streaming():
        ring.push(window_v[0, -2], window_m[0, -2])
        np.copyto(newest_v, window_v[0, -2])
        np.copyto(newest_m, window_m[0, -2])
        s_invoke()
        return sv["forecast"], sv["temporal_attention"].copy(), sv["spatial_attention"].copy()
    paths["streaming"] = streaming
    paths["streaming: its Invoke alone"] = s_invoke    # the ring as it is: what no cheaper ring bookkeeping goes under
    spare_v, spare_m = np.empty_like(window_v), np.empty_like(window_m)

    def copy_window():
        np.copyto(spare_v, window_v)
        np.copyto(spare_m, window_m)

    def copy_row():
        np.copyto(spare_v[0, -2], window_v[0, -2])
        np.copyto(spare_m[0, -2], window_m[0, -2])
    paths["copy: the window (2 × T × N)"], paths["copy: one row (2 × N)"] = copy_window, copy_row

    sweep = np.ones(SWEEP_BYTES // 8)
    shuffle = np.random.default_rng(0)
    names = list(paths)
    samples = {f"{n}, {s}": [] for s in ("warm", "cold") for n in names}
    worst_forecast, ring_off = 0.0, 0
    check_v, check_m = np.empty_like(sv["key_ring"]), np.empty_like(sv["value_ring"])
    for i, row in enumerate(rows[-ticks:]):
        pipe.step(row)
        cold = i % 2 == 1
        for j in shuffle.permutation(len(names)):
            if cold:
                sweep.sum()
            t0 = time.perf_counter()
            paths[names[j]]()
            samples[f"{names[j]}, {'cold' if cold else 'warm'}"].append(time.perf_counter() - t0)
        worst_forecast = max(worst_forecast, float(np.abs(sv["forecast"] - outs["shipped"]["forecast"]).max()))
        if i % 100 == 99:
            StreamRing(parts, check_v, check_m).fill(window_v[0], window_m[0])
            if not (np.allclose(check_v, sv["key_ring"], atol=1e-5) and np.allclose(check_m, sv["value_ring"], atol=1e-5)):
                ring_off += 1
                ring.fill(window_v[0], window_m[0])
    out = {name: percentiles_us(s) for name, s in samples.items()}
    for setting in ("warm", "cold"):
        base = out[f"shipped, {setting}"]["p50_us"]
        for name in names:
            out[f"{name}, {setting}"]["vs_shipped"] = round(out[f"{name}, {setting}"]["p50_us"] / base, 3)
    return {"paths": out, "ticks": ticks, "max_abs_forecast_streaming_vs_shipped": worst_forecast,
            "ring_checks_off": ring_off, "ring_checks": ticks // 100, "artifact": str(artifact)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", type=Path, required=True, help="the streaming form's TFLite file")
    ap.add_argument("--ticks", type=int, default=1500)
    ap.add_argument("--out", type=Path, default=Path("stream_ring.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    report = run(args.artifact, args.ticks, lambda m: print(m, file=sys.stderr))
    report["machine"] = machine_info()
    report["load_end"] = os.getloadavg()
    report["seconds"] = round(time.time() - t0, 1)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, f in report["paths"].items():
        print(f"{name:45s} {f['p50_us']:8.2f} µs p50  {f['vs_shipped']:.3f}")
    print(f"max |forecast streaming − shipped| {report['max_abs_forecast_streaming_vs_shipped']:.4g}; "
          f"ring checks off {report['ring_checks_off']}/{report['ring_checks']}; load {report['load_end']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
