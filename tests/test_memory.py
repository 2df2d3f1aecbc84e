"""What keeps the agent small (README "Memory"): the run path loads nothing its config does not
name — no OpenSSL even where numpy.random is needed, of numpy.random only default_rng's parts, of
PyYAML only its loader, no libLiteRt.so for the LiteRT tier (agent/lean_import.py), no numpy.ma (agent/quantile.py is
np.quantile bit for bit), no shutil for argparse's help width, no importlib.metadata or
tempfile for the LiteRT tier — the warm-up's rows live in four arrays, the fallback's
blocked fit is the whole-block fit, and its warm-up fit and calibration stay under a bound (perf66)."""
from __future__ import annotations

import hashlib
import platform
import subprocess
import warnings
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agent.digest import sha256
from conftest import agent_env
from agent.quantile import nanmedian_columns, quantile
from agent.scorers.rls import BatchRLS
from agent.service import return_freed_blocks
from agent.warmup import WarmupRows
from agent.window import Row

RUN_AND_LIST = ("import sys; from agent.cli import main; rc = main(sys.argv[1:]); "
                "print(' '.join(sorted(sys.modules)), ' '.join({l.split('/')[-1].strip() for l in open('/proc/self/maps')"
                " if '.so' in l}))")      # the modules and the shared libraries mapped
LEAN_YAML = {"yaml.loader", "yaml.constructor"}                   # the config was read ...
FULL_YAML = {"yaml.dumper", "yaml.emitter", "yaml.representer", "yaml.cyaml", "yaml._yaml"}  # ... with no more


SMALL_CSV_AGENT = """
    sensors: [a, b]
    tick_s: 10
    sources: [{type: replay, path: data.csv, speed: 0}]
    warmup: {ticks: 40}
    scoring: {chain: [numpy]}
    sinks: [{type: jsonl, path: alerts.jsonl}]
    state_dir: state
"""


def write_small_csv(tmp_path) -> None:
    """80 rows of two sensors at 10 s: enough for SMALL_CSV_AGENT's 40-tick warm-up and some scoring."""
    (tmp_path / "data.csv").write_text("timestamp,a,b\n" + "".join(f"{i * 10},{i % 7},{i % 5}\n" for i in range(80)))


def loaded_by_run(tmp_path, config: str) -> set[str]:
    (tmp_path / "agent.yaml").write_text(textwrap.dedent(config))
    res = subprocess.run([sys.executable, "-c", RUN_AND_LIST, "run", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=agent_env())
    assert res.returncode == 0, res.stderr[-2000:]
    return set(res.stdout.split())


def test_a_numpy_agent_on_a_csv_replay_loads_no_openssl_rng_or_network_modules(tmp_path):
    write_small_csv(tmp_path)
    loaded = loaded_by_run(tmp_path, SMALL_CSV_AGENT)
    assert {"agent.pipeline", "agent.checkpoint", "csv"} | LEAN_YAML <= loaded   # it ran, checkpointed, read CSV
    unwanted = FULL_YAML | {"_hashlib", "_ssl", "ssl", "numpy.random", "numpy.ma", "socket", "selectors", "uuid", "difflib",
                "tempfile", "importlib.metadata", "shutil", "bz2", "lzma", "paho", "sqlite3", "onnxruntime", "ai_edge_litert", "matplotlib",
                "agent.evaluate", "agent.listen", "agent.outbox"}
    assert not unwanted & loaded, sorted(unwanted & loaded)


def test_the_simulator_loads_numpy_random_without_openssl(tmp_path):
    loaded = loaded_by_run(tmp_path, """
        sensors: [S01_flow, S01_occ, S01_speed, S02_flow, S02_occ, S02_speed]
        topology: corridor
        tick_s: 30
        sources: [{type: simulate, scenario: corridor, seed: 3, speed: 0, duration_s: 3000}]
        warmup: {ticks: 60}
        scoring: {chain: [numpy]}
        sinks: [{type: jsonl, path: alerts.jsonl}]
        state_dir: state
    """)
    assert {"numpy.random._generator", "numpy.random._pcg64"} <= loaded
    # default_rng's parts only: not numpy.random's __init__ (the legacy RandomState, other generators),
    # and not `secrets`' code (random, hmac, hashlib), which a seeded generator never calls (perf44)
    unwanted = {"_hashlib", "numpy.random.mtrand", "numpy.random._mt19937", "numpy.random._philox",
                "numpy.random._sfc64", "numpy.random._pickle", "hashlib", "hmac", "random"}
    assert not unwanted & loaded, sorted(unwanted & loaded)


def test_the_simulators_generator_is_numpys_default_rng():
    from agent.sources.simulate_plants import seeded_rng
    for seed, stream in ((3, (1, 0)), (7, (2, 5)), (2**70 + 9, (4,)), (0, (6, 123))):
        ours, numpys = seeded_rng(seed, *stream), np.random.default_rng([seed % 2**64, *stream])
        assert type(ours) is type(numpys)
        assert np.array_equal(ours.standard_normal((50, 3)), numpys.standard_normal((50, 3)))
        assert np.array_equal(ours.random(20), numpys.random(20))
        assert ours.integers(7) == numpys.integers(7) and ours.uniform(0.55, 1.0) == numpys.uniform(0.55, 1.0)
        assert np.array_equal(ours.normal(0, 0.015, 9), numpys.normal(0, 0.015, 9))


LEAN_THEN_WHOLE = """
import sys
from agent.lean_import import submodule
gen = submodule("numpy.random", "_generator")
loader = submodule("yaml", "loader")
before = sorted(m for m in ("numpy.random.mtrand", "yaml.dumper") if m in sys.modules)
import numpy as np, yaml
from numpy.random import RandomState, default_rng       # names only the __init__ defines
print(before, np.random._generator is gen, yaml.loader is loader, default_rng is gen.default_rng,
      yaml.safe_dump({"a": 1}).strip(), RandomState(1).randint(100), "numpy.random.mtrand" in sys.modules)
"""


def test_a_lean_import_leaves_the_whole_package_to_whoever_asks_for_it():
    res = subprocess.run([sys.executable, "-c", LEAN_THEN_WHOLE], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["[]", "True", "True", "True", "a:", "1", "37", "True"]


DEMO_SENSORS = "[" + ", ".join(f"S0{i}_{m}" for i in range(1, 7) for m in ("flow", "occ", "speed")) + "]"


def test_the_litert_tier_loads_no_package_metadata_tempfile_or_numpy_ma(tmp_path):
    pytest.importorskip("ai_edge_litert")
    loaded = loaded_by_run(tmp_path, f"""
        sensors: {DEMO_SENSORS}
        topology: corridor
        tick_s: 30
        sources: [{{type: simulate, scenario: corridor, seed: 3, speed: 0, duration_s: 3600}}]
        window: {{steps: 32}}
        warmup: {{ticks: 60}}
        scoring: {{chain: [tflite, numpy], bundle: "builtin:demo-corridor"}}
        sinks: [{{type: jsonl, path: alerts.jsonl}}]
        state_dir: state
    """)
    assert {"ai_edge_litert.interpreter", "agent.quantile"} <= loaded       # the tier ran, warm-up fitted
    unwanted = {"importlib.metadata", "tempfile", "numpy.ma", "_hashlib", "onnxruntime"}
    assert not unwanted & loaded, sorted(unwanted & loaded)
    assert "libLiteRt.so" not in loaded      # the CompiledModel runtime ai_edge_litert's __init__ loads


def test_the_litert_tier_reports_the_installed_version():
    pytest.importorskip("ai_edge_litert")
    from importlib.metadata import version
    res = subprocess.run([sys.executable, "-c", "from agent.scorers.tflite import interpreter_class; "
                          "print(interpreter_class()[1])"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == f"ai-edge-litert {version('ai-edge-litert')}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quantile_is_numpys_bit_for_bit(dtype):
    rng = np.random.default_rng(11)
    for trial in range(400):
        n = int(rng.integers(1, 200))
        a = (rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
        if trial % 5 == 0:
            a = np.round(a)                                 # ties
        if trial % 7 == 0:
            a[rng.integers(0, n)] = np.nan                  # numpy answers NaN
        for q in (float(rng.random()), 0.0, 1.0, 0.98, rng.random(int(rng.integers(1, 8))),
                  np.linspace(0, 1, 9)[1:-1]):
            want, got = np.quantile(a, q), quantile(a, q)
            assert type(got) is type(want) and np.shape(got) == np.shape(want), (n, q)
            assert np.asarray(got).dtype == np.asarray(want).dtype
            assert np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True), (n, q, got, want)
    with pytest.raises(ValueError):
        quantile(np.array([]), 0.5)


def test_quantile_does_not_import_numpy_ma():
    res = subprocess.run([sys.executable, "-c", "import sys, numpy as np; from agent.quantile import quantile; "
                          "quantile(np.arange(9.0), [0.25, 0.5]); quantile(np.arange(9.0), 0.9); "
                          "print('numpy.ma' in sys.modules)"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.split() == ["False"], res.stderr[-2000:]


def test_nanmedian_columns_is_numpys_bit_for_bit():
    rng = np.random.default_rng(12)
    for trial in range(600):
        rows, cols = int(rng.integers(1, 120)), int(rng.integers(1, 9))
        x = rng.normal(size=(rows, cols)) * 10.0 ** rng.integers(-3, 4)
        if trial % 3 == 0:
            x = np.round(x)                                 # ties
        x[rng.random((rows, cols)) < 0.3] = np.nan          # unobserved ticks
        if trial % 5 == 0:
            x[:, 0] = np.nan                                # a sensor with no reading: NaN
        if trial % 7 == 0:
            x[0, -1] = np.inf
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # numpy's "All-NaN slice"
            want = np.nanmedian(x, axis=0)
        got = nanmedian_columns(x)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), (trial, got, want)


def test_the_first_scores_far_sensor_check_does_not_import_numpy_ma():
    """agent/operating_point.py runs at the first score, next to the agent's peak (perf62: np.nanmedian's small-array
    path imported numpy.ma there, +1.3 MiB)."""
    code = ("import sys, numpy as np; from agent.operating_point import far_sensors; from agent.window import Normaliser; "
            "v = np.arange(96.0).reshape(32, 3) % 7 * 10; m = np.zeros_like(v, bool); m[::3, 1] = True; "
            "print(far_sensors(v, m, Normaliser(np.zeros(3), np.ones(3) * 0.1), ['a', 'b', 'c'])[0][0], "
            "'numpy.ma' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=agent_env())
    assert res.returncode == 0 and res.stdout.split()[-1] == "False", (res.stdout, res.stderr[-2000:])


@pytest.mark.parametrize("columns", ["37", "200", "junk", None])
def test_the_cli_finds_the_terminal_width_shutil_would(monkeypatch, columns):
    import shutil

    from agent.cli import terminal_columns
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns


def test_builtin_sha256_is_hashlibs():
    for data in (b"", b"abc", bytes(range(256)) * 4099):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    h = sha256()
    h.update(b"ab")
    h.update(b"c")
    assert h.digest() == hashlib.sha256(b"abc").digest()


def test_warmup_rows_grow_keep_order_and_clear():
    rows = WarmupRows(sensors=2, capacity=2)
    for i in range(7):              # past the first capacity: grown twice
        rows.append(Row(ts=float(i), values=np.array([i, np.nan]), missing=np.array([False, True]),
                        carried=np.array([i % 2 == 0, False])))
    assert len(rows) == 7
    assert rows.ts.tolist() == [float(i) for i in range(7)]
    assert rows.values[:, 0].tolist() == list(range(7)) and np.isnan(rows.values[:, 1]).all()
    assert rows.missing[:, 1].all() and not rows.missing[:, 0].any()
    assert rows.carried[:, 0].tolist() == [i % 2 == 0 for i in range(7)]
    rows.clear()
    assert len(rows) == 0 and rows.values.shape == (0, 2)


def test_blocked_least_squares_fit_equals_the_whole_block_fit():
    rng = np.random.default_rng(5)
    m, n, k = 700, 3, 4
    X = rng.normal(size=(m, n, k))
    y = np.einsum("mnk,nk->mn", X, rng.normal(size=(n, k))) + 0.1 * rng.normal(size=(m, n))
    valid = rng.random((m, n)) > 0.2
    whole, blocked = BatchRLS(n, k, 0.999), BatchRLS(n, k, 0.999)
    whole.fit(X.copy(), y, valid)
    blocked.fit_blocks(lambda: ((X[i:i + 64].copy(), y[i:i + 64], valid[i:i + 64]) for i in range(0, m, 64)))
    np.testing.assert_allclose(blocked.w, whole.w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(blocked.resid_var, whole.resid_var, rtol=1e-10)


def test_freed_blocks_go_back_to_the_os_on_glibc():
    assert return_freed_blocks() is (platform.libc_ver()[0] == "glibc")


def demo_day(ticks: int):
    """The demo corridor's simulated readings (configs/demo.yaml's source), `ticks` ticks of its
    18 sensors, normalised as the pipeline does, with ~4 % of readings dropped."""
    import yaml

    from agent.sources.simulate import SimulateConfig, generate
    from agent.typed import build
    from agent.window import Normaliser

    cfg = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"))
    sim = dict(cfg["sources"][0], duration_s=ticks * cfg["tick_s"])
    sim.pop("type")
    by_ts: dict[float, dict] = {}
    for rec in generate(build(SimulateConfig, sim, "sources[0]"), cfg["sensors"], cfg["tick_s"]):
        by_ts.setdefault(rec.ts, {}).update(rec.values)
    ts = np.array(sorted(by_ts))[:ticks]
    raw = np.array([[by_ts[t].get(s, np.nan) for s in cfg["sensors"]] for t in ts])
    raw[np.random.default_rng(3).random(raw.shape) < 0.04] = np.nan
    missing = np.isnan(raw)
    return cfg, ts, Normaliser.fit(raw).apply(raw), missing


def test_the_fallbacks_fit_and_calibration_in_blocks_are_the_whole_days_bits():
    """NumpyScorer.fit replays the seasonal regressors as the AR fit's blocks ask for them and
    counts the Markov transitions in blocks; batch_scores scores blocks of rows: the same bits as
    the day at once (the regressors replayed whole, one block the size of the day)."""
    import copy

    from agent.config import NumpyScorerConfig, SensorSpec
    from agent.scorers.numpy_fallback import NumpyScorer
    from agent.topology import adjacency

    cfg, ts, z, missing = demo_day(1500)
    specs = [SensorSpec(name=s) for s in cfg["sensors"]]
    # An hour's profile (120 bins of 30 s): its regressors are not zero after two hours.
    make = lambda: NumpyScorer(len(specs), adjacency(specs, "corridor"),  # noqa: E731
                               NumpyScorerConfig(seasonal_periods_s=[3600]), tick_s=30.0, steps=32)
    blocked, whole = make(), make()
    cut = 1200
    blocked.fit(z, missing, ts, fit_rows=cut)

    extra = whole.seasonal.replay(ts, z, missing)            # the day at once, as before blocks
    assert np.count_nonzero(extra) > extra.size // 4
    whole.ar.fit(z[:cut], missing[:cut], extra[:cut], chunk=256)
    whole.fusion.fit(z[:cut], missing[:cut])
    whole.markov.fit(z[:cut], missing[:cut], chunk=len(z))
    whole.markov.calibrate(z[:cut], missing[:cut], chunk=len(z))

    def flat(state, key=""):
        if isinstance(state, dict):
            for k, v in state.items():
                yield from flat(v, f"{key}.{k}")
        elif isinstance(state, list):
            for i, v in enumerate(state):
                yield from flat(v, f"{key}[{i}]")
        else:
            yield key, np.asarray(state)
    got, want = dict(flat(blocked.state_dict())), dict(flat(whole.state_dict()))
    assert got.keys() == want.keys() and ".seasonal.features" in got
    for key in want:
        assert np.array_equal(got[key], want[key]), key

    again = copy.deepcopy(blocked)
    in_blocks = blocked.batch_scores(z, missing, 32, ts)                 # 128 rows a block
    at_once = again.batch_scores(z, missing, 32, ts, chunk=len(z))
    assert in_blocks.shape == (len(z) - blocked.ar.p, len(specs)) and in_blocks.max() > 3
    assert np.array_equal(in_blocks, at_once)
    ticks = copy.deepcopy(blocked).batch_tick_scores(z, missing, 32, ts)     # what the threshold is calibrated on
    assert ticks.dtype == np.float64 and np.array_equal(ticks, at_once.max(axis=1))
    assert np.array_equal(copy.deepcopy(blocked).batch_tick_scores(z, missing, 32, ts, chunk=len(z)), ticks)


FIT_PEAK = """
import sys, tracemalloc, numpy as np
from agent.config import NumpyScorerConfig, SensorSpec
from agent.scorers.numpy_fallback import NumpyScorer
from agent.topology import adjacency
day = np.load(sys.argv[1])
ts, z, missing = day["ts"], day["z"], day["missing"]
specs = [SensorSpec(name=s) for s in day["sensors"]]
scorer = NumpyScorer(len(specs), adjacency(specs, "corridor"), NumpyScorerConfig(), tick_s=30.0, steps=32)
tracemalloc.start()
start = tracemalloc.get_traced_memory()[0]
scorer.fit(z, missing, ts, fit_rows=int(len(z) * 0.7))
fit = tracemalloc.get_traced_memory()[1] - start
tracemalloc.reset_peak()
scorer.batch_tick_scores(z, missing, 32, ts)
print(fit, tracemalloc.get_traced_memory()[1] - start)
"""


def test_the_fallbacks_warm_up_fit_and_calibration_stay_under_three_quarters_of_a_mib(tmp_path):
    """The warm-up's fit and its calibration scores set the run's peak RSS (perf63): on the demo's day
    (2880 ticks, 18 sensors, its daily profile) each stays under 768 KiB of Python-tracked memory above
    the fit's start (tracemalloc; numpy's arrays are tracked) — perf66 measured 618 and 572 KiB; before
    it 958 and 932 (two AR feature blocks and two profile copies alive at once, the (2877, 18) score
    matrix whole). A fresh process: nothing else of the suite allocates beside it."""
    cfg, ts, z, missing = demo_day(2880)
    np.savez(tmp_path / "day.npz", ts=ts, z=z, missing=missing, sensors=np.array(cfg["sensors"]))
    res = subprocess.run([sys.executable, "-c", FIT_PEAK, str(tmp_path / "day.npz")], capture_output=True,
                         text=True, timeout=300, env=agent_env())
    assert res.returncode == 0, res.stderr[-2000:]
    fit, calibration = (int(v) for v in res.stdout.split())
    assert z.dtype == np.float32 and z.shape == (2880, 18)
    assert fit < 768 * 1024, f"the fit's peak {fit / 1024:.0f} KiB"
    assert calibration < 768 * 1024, f"the calibration scores' peak {calibration / 1024:.0f} KiB"


def test_a_checkpoint_written_in_parts_is_encodes_bytes(tmp_path, monkeypatch):
    from agent import checkpoint
    state = {"w": np.arange(12.0).reshape(3, 4), "counts": np.array([3.0, 1.0]), "empty": np.zeros((0, 4)),
             "mask": np.array([True, False]), "t": np.arange(6.0)[::2], "n": 3, "nested": {"x": [np.float32(1.5)]}}
    monkeypatch.setattr(checkpoint.time, "time", lambda: 1234.5)
    info = checkpoint.CheckpointStore(tmp_path).save({"config": {}}, state)
    data = (tmp_path / checkpoint.CHECKPOINT_FILE).read_bytes()
    assert data == checkpoint.encode({"config": {}, "created": 1234.5}, state) and info["bytes"] == len(data)
    meta, back = checkpoint.decode(data)
    assert meta["created"] == 1234.5 and np.array_equal(back["t"], [0.0, 2.0, 4.0]) and back["empty"].shape == (0, 4)


def test_a_checkpoint_is_saved_without_a_whole_copy_of_its_state(tmp_path):
    """The stop's checkpoint set the demo's peak RSS (perf66, +0.25 MiB): its arrays' written copies — 136 KiB
    of them non-contiguous views made contiguous — its header's text and bytes and the JSON encoder's pieces
    were all alive at once. Saved in pieces (perf67), a state of 2.5 MiB of arrays (four 512 KiB views with
    steps, 512 KiB of counts that are narrowed) and a ~0.4 MB header peaks under 2 MiB of Python-tracked
    memory above the save's start (tracemalloc; numpy's arrays are tracked): perf67 measured 1.4 MiB, 4.4 before it."""
    import tracemalloc
    from agent import checkpoint
    base = np.random.default_rng(1).normal(size=(4, 64, 2048))
    state = {"views": [base[i, :, ::2] for i in range(4)], "counts": np.arange(65536, dtype=np.float64),
             "scores": [float(x) for x in np.linspace(0, 1, 20000)]}
    assert sum(a.nbytes for a in state["views"]) + state["counts"].nbytes == 2560 * 1024
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        info = checkpoint.CheckpointStore(tmp_path).save({"config": {}}, state)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert info["bytes"] > 2 * 1024 * 1024 + 400_000
    assert peak < 2 * 1024 * 1024, f"the save's peak {peak / 1024:.0f} KiB"


def test_free_heap_pages_below_a_block_in_use_go_back_to_the_os():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    code = textwrap.dedent("""
        import ctypes
        from agent.service import return_freed_blocks, return_free_heap
        def rss():
            return int(open('/proc/self/statm').read().split()[1]) * 4096
        return_freed_blocks()                            # as the agent runs: 64 KiB blocks come from the heap
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        blocks = [libc.malloc(64 * 1024) for _ in range(256)]
        for b in blocks:
            ctypes.memset(b, 1, 64 * 1024)               # 16 MiB resident
        for b in blocks[:-1]:
            libc.free(b)                                 # all but the top one: the heap cannot shrink
        before = rss()
        print(return_free_heap(), before - rss() > 8 * 2**20)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["True", "True"]


def test_the_agent_returns_free_heap_pages_once_its_warm_up_is_fitted(tmp_path):
    write_small_csv(tmp_path)
    (tmp_path / "agent.yaml").write_text(textwrap.dedent(SMALL_CSV_AGENT))
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", "agent.yaml", "--log-level", "debug"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=agent_env())
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [line for line in res.stderr.splitlines() if "warm-up fitted: free heap pages" in line]
    assert len(lines) == 1, res.stderr[-3000:]       # once: when the warm-up's fit is done


AGENT_AND_LIST = ("import sys; from agent.config import load; from agent.service import Agent; "
                  "Agent(load(sys.argv[1]), max_ticks=1); print(' '.join(sorted(sys.modules)))")
UNNAMED_PLUGINS = {"agent.sources.mqtt", "agent.sources.modbus", "agent.sources.opcua", "agent.sources.opcua_session",
                   "agent.sources.udp", "agent.sources.stdin", "agent.sinks.mqtt", "agent.sinks.terminal"}


def test_an_agent_of_the_demo_loads_only_the_plugins_its_config_names(tmp_path):
    """agent/plugins.py `find` (perf64): a config imports the source and sink modules it names, not every module
    of agent/sources and agent/sinks (~0.5 MiB of code, issue 16's tflite aim). The demo as the bench runs it: its
    simulate source, its JSONL sink alone."""
    import yaml
    demo = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "demo.yaml").read_text())
    demo.update(state_dir=str(tmp_path / "state"), sinks=[{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}])
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(demo))
    res = subprocess.run([sys.executable, "-c", AGENT_AND_LIST, str(tmp_path / "agent.yaml")], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path, env=agent_env())
    assert res.returncode == 0, res.stderr[-2000:]
    loaded = set(res.stdout.split())
    assert {"agent.sources.simulate", "agent.sinks.jsonl", "agent.pipeline"} <= loaded      # it built the agent
    assert not UNNAMED_PLUGINS & loaded, sorted(UNNAMED_PLUGINS & loaded)
