"""Helpers shared by the test modules: the demo config, bundles made by the converter (built once
per session), simulator rows. Helpers that need torch import it when called; the modules that
use them skip themselves when torch is absent.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from agent import bundle as bundles
from agent.alerts import AlertEvent
from agent.faults.events import FaultEvent
from agent.config import from_dict, load as load_config
from agent.manifest import write as write_manifest
from agent.typed import ConfigError
from agent.window import align_records

# OpenMP's idle threads sleep instead of spinning, in this process and every one a test starts
# (set before anything loads torch: libgomp reads it once, when loaded). On a busy machine torch's
# threads spin at each parallel region's end: a TINY_TRAIN training at --threads 2 used 28 s of CPU
# spinning against 4 s sleeping, the same weights either way (qa26). A value already set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The Python processes a run starts (xdist's workers, and the agents and converters the tests start: hundreds) read
# the checkout's bytecode from __pycache__ (ignored by git), as in any run without PYTHONDONTWRITEBYTECODE. With it
# set (the development machine's shells set it), none was ever written: each worker compiled and assertion-rewrote
# every test module at collection (14 CPU-s against 5) and each agent or converter process compiled the agent's and
# the converter's modules from source (check-config 0.33 CPU-s against 0.22; suite2). This process keeps its flag.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
DEMO_BUNDLE = REPO / "agent" / "models" / "demo-corridor"
# The demo bundle shipped until corridor24 (one simulator seed, 1001, no EMA; docs/measured/accuracy-corridor.md),
# its files as they were: a real bundle written before `holdout_runs` and `profile_wander` existed, for the tests of
# such older bundles, and for the tests whose premise is that model's own behaviour on the demo's rows (an alert
# open at row 898 of seed 7; a sensor off scale that moves its tick score) rather than the shipped bundle's.
DEMO_BUNDLE_1001 = REPO / "tests" / "fixtures" / "demo-corridor-1001"
TINY_KINDS = ["onnx_fp32", "onnx_int8", "tflite_fp32"]   # tflite int8 export takes ~1 min: the demo bundle has it
WATCHDOG_USEC = 1_000_000          # pings expected every 0.5 s


def bench_module(name: str):
    """A bench/ script as a module, loaded from its path instead of putting bench/ on sys.path,
    where a bench script's name could hide a package of the same name for later tests."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def through_file(state: dict) -> dict:
    """A pipeline's state as a restart reads it back: through the checkpoint file format."""
    from agent.checkpoint import decode, encode
    return decode(encode({"config": {}}, state))[1]


def demo_dict(state_dir: Path, **scoring) -> dict:
    """configs/demo.yaml as a dict, without the MQTT sink, writing into `state_dir`."""
    d = yaml.safe_load(DEMO_CONFIG.read_text())
    d["sinks"] = [{"type": "jsonl", "path": str(state_dir / "alerts.jsonl")}]
    d["state_dir"] = str(state_dir)
    d["scoring"].update(scoring)
    return d


def demo_cfg(state_dir: Path, warmup_ticks: int = 300, **scoring):
    d = demo_dict(state_dir, **scoring)
    d["warmup"]["ticks"] = warmup_ticks
    return from_dict(d, base_dir=str(REPO))


@functools.lru_cache(maxsize=None)
def bundle_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="stad-test-bundles-"))
    atexit.register(shutil.rmtree, root, True)
    return root


#: Under pytest-xdist, the folder every worker of this run shares (the run's basetemp, which xdist
#: splits into one `popen-gwN` per worker and pytest removes with its old runs); set by pytest_configure.
_RUN_ROOT: list[Path] = []


def pytest_addoption(parser, pluginmanager):
    """tests/cpu_durations.py's --cpu-durations=N: CPU seconds per test (on a loaded machine wall time is the load's)."""
    import cpu_durations
    if not pluginmanager.has_plugin("cpu_durations"):
        pluginmanager.register(cpu_durations, "cpu_durations")


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER") and config.option.basetemp:
        _RUN_ROOT.append(Path(config.option.basetemp).parent)


@contextlib.contextmanager
def _run_lock(path: Path):
    """An exclusive lock on `path` (fcntl: released if its worker dies), so that one worker builds
    what all of them share while the others wait on the lock, not on a timer."""
    import fcntl
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def built_once(name: str, build) -> Path:
    """`build(folder)` run once per test run, its folder shared: under pytest-xdist the first worker
    that asks builds into the run's basetemp while holding a lock, and the others wait on the lock
    and reuse what it built (a worker killed half-way leaves no `.done`: the next one builds again).
    Serially, in this process's bundle_root. For trained bundles that tests only read (copy to change)."""
    root = _RUN_ROOT[0] if _RUN_ROOT else bundle_root()
    out = root / name
    with _run_lock(root / f"{name}.lock"):
        done = root / f"{name}.done"                    # beside it: no file the bundle does not list
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            build(out)
            done.touch()
    return out


@functools.lru_cache(maxsize=None)
def tiny_bundle() -> Path:
    """A trained tiny bundle for the demo corridor: ONNX fp32 + int8, TFLite fp32, verified; trained
    once per run (each xdist worker trained its own before: ~1 min of CPU each under load)."""
    return built_once("stad-tiny-bundle", _train_tiny)


def _train_tiny(out: Path) -> Path:
    from agent.config import load
    from convert.pipeline import DataOptions, export_bundle, train_bundle
    from convert.train import TrainOptions
    from convert.verify import verify_bundle

    options = TrainOptions(epochs=2, windows_per_epoch=1024, d_model=16, heads=2, ff_hidden=16, threads=1,
                           progress=False)
    train_bundle(load(DEMO_CONFIG), out, options, DataOptions(days=1.0), model_id="tiny")
    export_bundle(out, TINY_KINDS, log=lambda *a: None)
    verify_bundle(out, write=True, log=lambda *a: None)
    return out


def convert_in_process(capsys, *argv: str) -> subprocess.CompletedProcess:
    """`stad-convert ARGV` run by its own `main` in this process (`python -m convert.cli` is `SystemExit(main())`):
    the exit code main returns, with what it printed on stdout and stderr. For tests whose claim is what a
    command says and leaves, not the process (its signals, environment, stream hygiene): a converter process
    imports torch, onnx and onnxruntime again, ~3 of a small train's ~5 CPU-s, where a worker imports them once
    (suite9). Its stderr holds what a process's would: the converter's logger gets a handler on this test's stderr
    (main makes one when it has none; one made in an earlier test writes to that test's capture), and the other
    loggers' warnings are printed there as logging's last resort prints them in a process with no handler.
    `capsys` None: what main prints is taken into strings of its own instead of a test's capture — for a bundle
    built once per run (built_once), outside any one test (suite10)."""
    if capsys is None:
        import io
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _convert_main(argv)
        return subprocess.CompletedProcess(["stad-convert", *argv], code, out.getvalue(), err.getvalue())
    capsys.readouterr()
    code = _convert_main(argv)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["stad-convert", *argv], code, out, err)


def _convert_main(argv) -> int:
    """convert.cli's main on `argv`, its logging on the sys.stderr of now (convert_in_process); its return code."""
    import logging
    from convert.cli import main
    logger, root = logging.getLogger("stad.convert"), logging.getLogger()
    kept = logger.handlers[:]
    logger.handlers.clear()
    last_resort = logging.StreamHandler(sys.stderr)
    last_resort.setLevel(logging.WARNING)
    root.addHandler(last_resort)
    try:
        code = main(list(argv))
    except SystemExit as exc:           # argparse's refusals
        code = exc.code
    finally:
        root.removeHandler(last_resort)
        logger.handlers[:] = kept
    return code


def variant(name: str, src: Path | None = None, model_id: str | None = None, keep: list[str] | None = None,
            nan_weights: bool = False) -> Path:
    """A copy of a bundle (default: the tiny one): another model_id, only some artifacts, or NaN
    weights in its fp32 model files (`nan_weights`, see `nan_weights_in`). Torch-free when `src` is given."""
    src = src or tiny_bundle()
    out = bundle_root() / name
    if out.exists():
        return out
    shutil.copytree(src, out)
    manifest = bundles.read_manifest(out)
    if model_id:
        manifest.model_id = model_id
    for kind in list(manifest.artifacts):
        if keep is not None and kind not in keep:
            (out / manifest.artifacts.pop(kind).file).unlink()
    if nan_weights:
        for artifact in manifest.artifacts.values():
            nan_weights_in(out / artifact.file, out / "model.pt")
    write_manifest(out, manifest)
    return out


def failed_parity_variant(name: str, agreement: dict[str, float]) -> Path:
    """A copy of the demo bundle whose recorded parity failed: each int8 kind of `agreement` with that alert
    agreement on its perturbed windows, as `stad-convert verify --record` writes a failure."""
    out = variant(name, src=DEMO_BUNDLE, model_id=name)
    manifest = bundles.read_manifest(out)
    manifest.parity["passed"] = False
    for kind, value in agreement.items():
        manifest.parity[kind]["groups"]["perturbed"]["alert_agreement"] = value
    write_manifest(out, manifest)
    return out


def nan_weights_in(model_file: Path, weights: Path) -> None:
    """Overwrite, in an exported fp32 model file, every weight tensor of the PyTorch model it was
    exported from with NaN: the same file, loaded by the same runtime, now computes NaN.

    No torch needed: torch.save writes a zip whose `*/data/<n>` entries are the tensors' raw
    little-endian bytes, and ONNX and TFLite keep fp32 weights as raw little-endian bytes too, so
    each tensor that the exporter kept as it was is found byte for byte (biases, norms, embeddings;
    a transposed matrix is not). Raises when none is found (an int8 file keeps no fp32 weights)."""
    import zipfile

    import numpy as np

    blob = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(weights) as z:
        tensors = [z.read(n) for n in z.namelist() if "/data/" in n]
    found = 0
    for t in tensors:
        if len(t) < 16 or len(t) % 4:
            continue
        nan = np.full(len(t) // 4, np.nan, "<f4").tobytes()
        at = blob.find(t)
        while at >= 0:
            blob[at:at + len(t)] = nan
            found += 1
            at = blob.find(t, at + len(t))
    if not found:
        raise ValueError(f"{model_file}: none of the weights of {weights} found as fp32 bytes")
    model_file.write_bytes(bytes(blob))


def sim_rows(cfg, days: float, seed: int = 7, anomalies: str = "keep"):
    """Aligned rows of the config's simulator (unpaced), anomalies as configured."""
    from convert.data import source_records, training_sources
    src = training_sources(cfg, days=days, seed=seed, anomalies=anomalies)[0]
    return align_records(source_records(cfg, src), cfg.sensor_names(), cfg.tick_s, cfg.window.carry_forward_s)


def ar1_rows(n: int, n_sensors: int, seed: int, bump: tuple[int, int, float], bumped, missing_p: float):
    """Aligned rows of a synthetic AR(1) stream around 20, 10 s apart: `bump` (first tick, end tick,
    size) added to the sensors the bool mask `bumped` picks, each reading missing with `missing_p`."""
    import numpy as np

    from agent.window import Row
    rng = np.random.default_rng(seed)
    x = np.zeros(n_sensors)
    out = []
    for t in range(n):
        x = 0.7 * x + rng.normal(size=n_sensors)
        values = x + 20 + (bump[2] if bump[0] <= t < bump[1] else 0.0) * bumped
        missing = rng.random(n_sensors) < missing_p
        out.append(Row(ts=1e9 + 10.0 * t, values=np.where(missing, np.nan, values), missing=missing,
                       carried=np.zeros(n_sensors, bool)))
    return out


# ---- sample events and a pump agent config ----------------------------------------------------

def fault_event(i: int, end: bool = False) -> FaultEvent:
    """One sensor-fault event (fault, or with `end` its fault_end), for the sink tests."""
    return FaultEvent(fault_id=f"gw-flow-{i}", seq=int(end), event="fault_end" if end else "fault", node="gw",
                      site="site", sensor="flow", group="skid", kind="missing", ts=1000.0 + i, start=1000.0,
                      end=1000.0 + i if end else None, evidence={"summary": "no reading"},
                      reason="cleared" if end else None)


def alert_event(alert: str, seq: int, kind: str = "update", threshold: float = 2.5, node: str = "gw-7",
                site: str = "plant-a") -> AlertEvent:
    """One alert event as the agent emits it, for the sink tests."""
    now = time.time()
    return AlertEvent(alert_id=alert, seq=seq, event=kind, node=node, site=site, ts=now, start=now - seq,
                      end=now if kind == "end" else None, score=3.1, peak_score=4.2, threshold=threshold,
                      tier="numpy", model_id="numpy-ar3", model_sha256="ab" * 32,
                      top_sensors=[{"sensor": "pressure", "score": 3.0, "contribution": 0.75},
                                   {"sensor": "flow", "score": 1.0, "contribution": 0.25}],
                      top_steps=[{"ts": now - 1, "weight": 0.6}], origin="pressure", ticks=seq + 1,
                      reason="cleared" if kind == "end" else None)


PUMP = ["accel1", "accel2", "current", "pressure", "temp_motor", "temp_fluid", "voltage", "flow"]

#: An agent of three sensors fed JSON lines on stdin, warm after 40 one-second ticks, its alerts in
#: alerts.jsonl: the smallest agent a subprocess test runs end to end (swap the `sources` line for others).
STDIN_AGENT = """
tick_s: 1
topology: group
sensors: [a, b, c]
sources: [{type: stdin}]
warmup: {ticks: 40}
window: {steps: 8}
scoring: {chain: [numpy]}
sinks: [{type: jsonl, path: alerts.jsonl}]
state_dir: state
"""


def corrupt_tail(path: Path, pages: int) -> None:
    """What a power cut on an SD card can leave of an SQLite file: its last pages overwritten with junk."""
    data = bytearray(path.read_bytes())
    data[len(data) - (pages + 1) * 4096:len(data) - 4096] = b"\xff" * (pages * 4096)
    path.write_bytes(bytes(data))


def tls_sink_config(tmp_path: Path, tls: dict) -> Path:
    """An agent config (stdin source) whose MQTT sink uses `tls`, with a password file next to it."""
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "node": {"id": "gw-7", "site": "plant-a"}, "sensors": ["pressure", "flow"], "sources": [{"type": "stdin"}],
        "state_dir": str(tmp_path / "state"),
        "sinks": [{"type": "mqtt", "broker": {"host": "localhost", "port": 8883, "username": "agent",
                                              "password": {"file": "pw"}, "tls": tls}}]}))
    return path


def pump_agent_config(tmp_path: Path, sinks: list[dict], speed: float = 200.0) -> Path:
    """A pump skid, 1 s ticks, simulated `speed`× faster than real time, a sensor dropout every 10 s
    (fault events) and a cavitation incident every 300 s (alerts)."""
    anomalies = [{"kind": "dropout", "at_s": 100 + 10 * i, "duration_s": 5, "target": PUMP[i % len(PUMP)]}
                 for i in range(600)]
    anomalies += [{"kind": "incident", "at_s": 120 + 300 * i, "duration_s": 120, "target": "pump"} for i in range(20)]
    cfg = {
        "node": {"id": "gw-test", "site": "lab"},
        "tick_s": 1,
        "topology": "group",
        "sensors": [{"name": s, "group": "skid"} for s in PUMP],
        "sources": [{"type": "simulate", "scenario": "pump", "seed": 5, "speed": speed,
                     "start": "2026-01-05T06:00:00Z", "anomalies": anomalies}],
        "window": {"steps": 8, "carry_forward_s": 2, "lateness_ticks": 1},
        "warmup": {"ticks": 60},
        "scoring": {"chain": ["numpy"]},
        "alerts": {"min_duration_ticks": 1, "clear_ticks": 2, "cooldown_ticks": 0, "update_interval_s": 5},
        "sinks": sinks,
        "state_dir": str(tmp_path / "state"),
        "log_level": "info",
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


#: Where the shared labelled data (SKAB, NAB; never copied into the repo) may be: the development
#: machine's copy, or ../shared/data beside the checkout (CI). Tests that need it skip without it.
SHARED_DATA_ROOTS = (Path("/work/shared/data"), REPO.parent / "shared" / "data")


def shared_dataset(name: str, needed: str | Path = "") -> Path | None:
    """The data set `name`'s folder (`skab`, `nab`) in the first shared copy that holds `needed`
    under it (a file or folder), or None when no copy does."""
    return next((root / name for root in SHARED_DATA_ROOTS if (root / name / needed).exists()), None)


HAVE_DEMO = (DEMO_BUNDLE / bundles.MANIFEST_NAME).exists()
NO_DEMO = pytest.mark.skipif(not HAVE_DEMO, reason="the demo bundle (agent/models/demo-corridor) is not built")


# ---- the fake systemd ------------------------------------------------------------------------

#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS; a struct timespec on 64-bit), which the socket module does not name
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class NotifySocket:
    """A bound NOTIFY_SOCKET: records every datagram with its arrival time — the kernel's (SO_TIMESTAMPNS, the
    moment the agent's send queued it), on time.monotonic()'s scale: the receiving thread's own wake-up is late by
    as much as the machine is loaded, and two pings' gap read there came out 0.449 s for a sender that keeps 0.5
    (qa40, load ~25)."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self.lock = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while not self.closed:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            arrived = time.monotonic()
            for level, kind, stamp in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(stamp) >= 16:
                    sec, nsec = struct.unpack("qq", stamp[:16])
                    arrived -= max(0.0, time.time() - (sec + nsec / 1e9))     # queued that long before now
            with self.lock:
                for line in data.decode().splitlines():
                    self.messages.append((arrived, line))
                self.lock.notify_all()

    def times(self, message: str) -> list[float]:
        with self.lock:
            return [t for t, m in self.messages if m == message]

    def lines(self, prefix: str) -> list[str]:
        with self.lock:
            return [m for _, m in self.messages if m.startswith(prefix)]

    def wait_for(self, message: str, count: int = 1, timeout: float = 120.0, after: float = 0.0) -> list[float]:
        """The arrival times of `message` once `count` of them (after `after`) are in; a deadline, not a pace: an
        agent's start on a busy 2-core machine took over 15 s to its READY=1 at load ~25 (qa40)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                hits = [t for t, m in self.messages if m == message and t >= after]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count}× {message!r} did not arrive within {timeout}s; got "
                                         f"{[m for _, m in self.messages][-20:]}")
                self.lock.wait(left)

    def close(self) -> None:
        self.closed = True
        self.thread.join(timeout=2)
        self.sock.close()
        if not self.address.startswith("@"):
            Path(self.address).unlink(missing_ok=True)


# ---- the agent as a subprocess under the fake systemd ----------------------------------------

def agent_env(**extra: str) -> dict[str, str]:
    """The environment for `python -m agent` started in another directory than the repository:
    PYTHONPATH names this tree, else `import agent` finds whatever checkout the virtualenv's
    editable install points to (worktrees share one venv: the tests would run another tree's agent)."""
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def start_agent(cfg: Path, notify: NotifySocket, extra_env: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in agent_env().items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update({"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": str(WATCHDOG_USEC), **(extra_env or {})})
    return subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def running_agent(cfg: Path, notify: NotifySocket, extra_env: dict | None = None):
    """The agent under `notify`; on the way out it is killed if still running, and `notify` closed."""
    proc = start_agent(cfg, notify, extra_env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


def stop_agent(proc: subprocess.Popen, timeout: float = 90.0) -> str:
    """One SIGTERM, then wait: a second one could land after Python has restored the default handler."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the agent did not exit within {timeout}s of SIGTERM:\n{err[-3000:]}")
    return err



def end_processes(*procs: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop what a test started, whatever state it is in: SIGCONT first (a stopped process cannot act on SIGTERM),
    then SIGTERM, then SIGKILL if it has not exited within `timeout`. For a test's `finally:`; asserts nothing."""
    for proc in procs:
        if proc is None or proc.poll() is not None:
            continue
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

# ---- evaluation reports --------------------------------------------------------------------

def threshold_problems(tmp_path: Path, threshold: str) -> list[str]:
    """The problems `config.load` reports for a one-sensor config whose `threshold:` is this YAML."""
    path = tmp_path / "agent.yaml"
    path.write_text(f"sensors: [a]\nsources: [{{type: stdin}}]\nthreshold: {threshold}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return exc.value.problems


def valid_report(path: Path, *also: dict) -> dict:
    """The evaluation report written at `path`, validated against the shipped schema, as are the
    in-memory reports in `also`; the test is skipped without jsonschema (extra `dev`)."""
    jsonschema = pytest.importorskip("jsonschema")
    from agent.evaluate.report import SCHEMA_PATH
    schema = json.loads(SCHEMA_PATH.read_text())
    on_disk = json.loads(path.read_text())
    for report in (on_disk, *also):
        jsonschema.validate(report, schema)
    return on_disk


# ---- a tiny corridor for the converter's tests (train → export → verify in seconds) -------------------------

TINY_CORRIDOR_SENSORS = ["S01_flow", "S01_occ", "S01_speed", "S02_flow", "S02_occ", "S02_speed"]
TINY_CORRIDOR_STEPS = 12
TINY_CORRIDOR_CONFIG = f"""
tick_s: 60
topology: corridor
sensors: {json.dumps(TINY_CORRIDOR_SENSORS)}
sources:
  - {{type: simulate, scenario: corridor, seed: 3}}
window: {{steps: {TINY_CORRIDOR_STEPS}, carry_forward_s: 120}}
warmup: {{ticks: 100}}
threshold: {{method: pot, risk: 0.01}}
"""


# ---- a free local port ----------------------------------------------------------------------

def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


#: free_port's own draws, from the OS: a test that seeds the global `random` (Hypothesis does, per
#: example) cannot make two pytest-xdist workers draw the same ports in step.
_PORTS = random.SystemRandom()


def free_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on, taken BELOW the kernel's ephemeral range: a port
    the kernel hands out for bind(0) can be handed out again as the source port of any outgoing
    connection between this probe and the bind of whoever asked (a broker, a server) (seen once as "Address already in use"
    on a busy machine). Falls back to bind(0) when the range leaves no room below it."""
    low, _ = _ephemeral_range()
    if low > 10_000:
        for _ in range(50):
            port = _PORTS.randrange(10_000, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- waiting on a condition (never a fixed sleep) ---------------------------------------------

def wait_until(predicate, timeout: float = 60.0, proc: subprocess.Popen | None = None):
    """Poll `predicate()` until it returns something truthy, and return that; False once `timeout`
    seconds pass or `proc` has exited (checked once more after the exit, so a last write counts).
    The one polling loop of the suite: event-driven waits (NotifySocket, Collector) wait on a
    condition variable instead."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            return predicate() or False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def wait_for(predicate, what: str, timeout: float = 90.0, proc: subprocess.Popen | None = None):
    """`wait_until`, failing the test with `what` (and the agent's exit code) when it is not met."""
    got = wait_until(predicate, timeout, proc)
    if got:
        return got
    if proc is not None and proc.poll() is not None:
        raise AssertionError(f"the agent exited ({proc.returncode}) while waiting for {what}")
    raise AssertionError(f"{what}: not within {timeout}s")


# ---- agents in the background, an OPC UA server --------------------------------------------

def start_logged_agent(config_path: Path, tmp_path: Path, name: str = "agent") -> subprocess.Popen:
    """`stad-agent run` in the background, its output in tmp_path/NAME.out and NAME.err."""
    return subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config_path)], cwd=REPO,
                            stdout=(tmp_path / f"{name}.out").open("w"), stderr=(tmp_path / f"{name}.err").open("w"))


def interrupt_agent(proc: subprocess.Popen) -> int:
    """SIGINT (as Ctrl-C), then its exit code; killed if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


class PeerProcess:
    """A test peer run as a process, `tests/SCRIPT PORT [ARGS]`: started (ready once it prints READY),
    killed with SIGKILL (a power cut), and started again on the same port."""

    script = ""

    def __init__(self, port: int, *args: object):
        self.port = port
        self.args = [str(a) for a in args]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / self.script), str(self.port), *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", f"{line} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class OpcUaServer(PeerProcess):
    """tests/opcua_server.py as a process on `port` (the opcua extra's asyncua), started and killed;
    with `certs`, secured (Basic256Sha256 SignAndEncrypt, admitting only certs/client.der)."""

    script = "opcua_server.py"

    def __init__(self, port: int, certs: Path | None = None):
        super().__init__(port, *([certs] if certs else []))
        self.certs = certs


@pytest.fixture(scope="session")
def opcua_shared_server():
    """One tests/opcua_server.py --commands for the whole pytest process (per xdist worker: each is its own
    process and session), killed at its end: an asyncua server's start costs ~1.6 s of CPU, 1.5–40 s of wall on
    the loaded 2-core machine, and each OPC UA test module (test_opcua.py: each test) paid one. Tests take it through tests/opcua_agent.py `server`, which resets it for each (started again
    if killed, every command undone, no subscription left), so none depends on another's order."""
    pytest.importorskip("asyncua", reason="the opcua extra is not installed")
    from opcua_agent import Server
    server = Server(free_port())
    server.start()
    yield server
    server.kill()


class ModbusDevice(PeerProcess):
    """tests/modbus_device.py as a process on `port`: holding registers 0..99 = 100..199, unit 1."""

    script = "modbus_device.py"


# ---- a Modbus device ---------------------------------------------------------------------------

@pytest.fixture
def modbus_server():
    """A real pymodbus TCP server on a free local port, holding registers 0..99 = 100..199."""
    pytest.importorskip("pymodbus")
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device = SimDevice(id=1, simdata=[SimData(0, values=list(range(100, 200)), datatype=DataType.REGISTERS)])
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    async def serve():
        holder["server"] = ModbusTcpServer(device, address=("127.0.0.1", port))
        started.set()
        await holder["server"].serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    started.wait(5)
    deadline = time.monotonic() + 20          # listening: the server binds after started is set
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.02)
    yield port
    asyncio.run_coroutine_threadsafe(holder["server"].shutdown(), loop).result(5)
    thread.join(5)
    loop.close()


HOTSWAP_WARMUP = 300


def hotswap_pipeline(tmp_path, bundle=None, shadow_ticks=5, **scoring):
    """(pipeline, its HotSwap polling every 2 ticks, the models_dir) on the demo config (`scoring`: more keys)."""
    from agent.hotswap import HotSwap
    from agent.pipeline import Pipeline

    models = tmp_path / "models"
    models.mkdir()
    cfg = demo_cfg(tmp_path, warmup_ticks=HOTSWAP_WARMUP, bundle=str(bundle) if bundle else None,
                   models_dir=str(models), shadow_ticks=shadow_ticks, **scoring)
    pipe = Pipeline(cfg)
    return pipe, HotSwap(cfg, pipe, poll_ticks=2), models


def drive_hotswap(pipe, swap, rows, until, limit=300):
    """Feed ticks (as the daemon does: step, then on_tick) until `until()` holds; every result."""
    results = []
    ticks_while_loading = 0
    for r in rows:
        res = pipe.step(r)
        swap.on_tick(res)
        if not res.warming:
            results.append(res)
            if until():
                return results
            if swap.status()["state"] == "loading":
                # The load runs in a thread and ticks keep coming meanwhile; after a few, let it
                # finish, however slow the machine, so the rows do not run out.
                ticks_while_loading += 1
                if ticks_while_loading % 20 == 0:
                    swap._loading.join(120)
        if len(results) >= limit:
            break
    raise AssertionError(f"condition not reached after {len(results)} ticks; status {swap.status()}")


# ---- the checkout as a wheel (the installer's tests) ----------------------------------------

def checkout_wheel() -> Path:
    """A wheel of this checkout (no dependencies), built once per test run from a copy of agent/, convert/,
    pyproject.toml and README.md, so that no build/ directory lands in the tree; for systemd/install.sh's
    `--source WHEEL --pip-args "--no-deps --no-index"`: an install that needs no network."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not in the test venv: the wheel cannot be built offline (pip install setuptools)")

    def build(out: Path) -> None:
        src = out / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in ("agent", "convert"):
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            if (REPO / name).exists():
                shutil.copy(REPO / name, src / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "-w", str(out), str(src)], check=True, capture_output=True,
                       timeout=300)
        shutil.rmtree(src)

    (whl,) = built_once("checkout-wheel", build).glob("stad_edge-*.whl")
    return whl


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def linked_deps(deps: Path, *also: str) -> Path:
    """This interpreter's numpy and PyYAML (all `stad-agent run` and check-config of a numpy-scorer config need), and
    the packages named in `also` (e.g. "pymodbus" for a Modbus source), as hard links (copies across file systems) in
    `deps`, for a .pth line in an offline venv that install.sh fills `--no-deps`. A folder of their own, not this
    venv's site-packages: install.sh compiles every directory on the venv's sys.path for python -OO, and the test
    venv's site-packages (torch and every extra, 2.4 GB) made user32's staged test 80 CPU-s and 226 s against 11 and 52
    (suite7, docs/measured/speed.md).
    Their own tests and bytecode are left out."""
    import numpy
    site = Path(numpy.__file__).parents[1]
    assert Path(yaml.__file__).parents[1] == site, "numpy and PyYAML are expected in one site directory"
    for name in ("numpy", "numpy.libs", "yaml", "_yaml", *also):
        if (site / name).is_dir():
            shutil.copytree(site / name, deps / name, copy_function=_link_or_copy,
                            ignore=shutil.ignore_patterns("__pycache__", "tests"))
        else:
            assert name not in also, f"{name} is not a package in {site}"
    return deps
