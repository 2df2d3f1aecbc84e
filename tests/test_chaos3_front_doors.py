"""The agent's front doors, from what bench/fuzz_front.py found (the chaos3 round): `check-config` must not say
a bare "ok" for a config `run` would refuse, and a stream of bad records must cost only themselves.

Each test runs the real agent as a process (`python -m agent`), fed through its real stdin.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, agent_env, end_processes, wait_until


def _stdin_config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 1, "sensors": ["a", "b"], "sources": [{"type": "stdin"}], "window": {"steps": 8},
        "warmup": {"ticks": 50}, "scoring": {"chain": ["numpy"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}], "state_dir": str(tmp_path / "state")}))
    return path


def _agent(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=REPO, env=agent_env(), text=True, timeout=300,
                          **kw)


def test_check_config_notes_a_state_dir_another_agent_holds_now(tmp_path):
    # Found by the fuzz's mutants sharing one state_dir: check-config said ok (exit 0, nothing said), then
    # `run` exited 1 ("cannot start: … state_dir … is in use by another stad-agent"). The running service is
    # check-config's usual company, so it is a note, as a port in use is, not a problem.
    path = _stdin_config(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(path)], cwd=REPO, env=agent_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = tmp_path / "state" / "agent.lock"
        assert wait_until(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), 120, proc=first)
        held = _agent("check-config", "-c", str(path), capture_output=True)
        assert held.returncode == 0, held.stderr
        assert (f"{path}: note: state_dir: {tmp_path / 'state'} is in use now by a running stad-agent "
                f"(pid {first.pid}): run cannot start beside it") in held.stderr, held.stderr
        refused = _agent("run", "-c", str(path), capture_output=True, input="")
        assert refused.returncode == 1 and "is in use by another stad-agent" in refused.stderr, refused.stderr[-2000:]
    finally:
        if first.stdin:
            first.stdin.close()
        end_processes(first)
    free = _agent("check-config", "-c", str(path), capture_output=True)
    assert free.returncode == 0 and "in use now" not in free.stderr, free.stderr


def test_a_fifo_given_as_a_recording_is_a_problem_at_its_key_path(tmp_path):
    # Found by the fuzz (a path mutated into a FIFO): on the old code check-config said ok for a FIFO as
    # sources[].path, and `run` exited 1 saying it "does not exist"; as warmup.replay, check-config died with
    # a traceback (FileNotFoundError from walk_replay).
    import os
    os.mkfifo(tmp_path / "pipe")
    path = _stdin_config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"] = [{"type": "replay", "path": "pipe"}]
    cfg["warmup"]["replay"] = "pipe"
    path.write_text(yaml.safe_dump(cfg))
    for command in ("check-config", "run"):
        res = _agent(command, "-c", str(path), capture_output=True, input="")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        for key in ("sources[0].path", "warmup.replay"):
            assert f"{path}: {key}: {tmp_path / 'pipe'} is a FIFO (named pipe), not a file or a directory" \
                in res.stderr, res.stderr
        assert "2 problem(s); nothing started" in res.stderr


def test_a_fifo_as_the_jsonl_sinks_file_is_a_problem_not_a_start_that_hangs(tmp_path):
    # Found by the fuzz (a path mutated into a FIFO): on the old code check-config said ok, and `run` hung before
    # its banner — opening a FIFO to write waits for a reader — until systemd's start timeout would kill it.
    import os
    os.mkfifo(tmp_path / "alerts.fifo")
    path = _stdin_config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.fifo")}]
    path.write_text(yaml.safe_dump(cfg))
    res = _agent("check-config", "-c", str(path), capture_output=True)
    assert res.returncode == 2, res.stderr
    assert (f"{path}: sinks[0].path: {tmp_path / 'alerts.fifo'} is a FIFO (named pipe) that nothing reads now: run "
            "would wait for a reader before it starts") in res.stderr, res.stderr
    # with a reader it is a pipe to a consumer, as tests/test_systemd.py's blocked writer uses it: no problem
    reader = os.open(tmp_path / "alerts.fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        res = _agent("check-config", "-c", str(path), capture_output=True)
        assert "alerts.fifo" not in res.stderr, res.stderr
    finally:
        os.close(reader)


def _bundle_config(tmp_path: Path, edit) -> Path:
    """The simulated corridor scored by a copy of the builtin bundle whose manifest `edit(manifest)` changed."""
    import json
    import shutil
    shutil.copytree(REPO / "agent" / "models" / "demo-corridor", tmp_path / "bundle")
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    edit(manifest)
    (tmp_path / "bundle" / "manifest.json").write_text(json.dumps(manifest))
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "tick_s": 30, "topology": "corridor", "sensors": manifest["sensors"],
        "sources": [{"type": "simulate", "scenario": "corridor", "seed": 3}], "window": {"steps": 32},
        "warmup": {"ticks": 40}, "scoring": {"chain": ["tflite", "onnx", "numpy"], "bundle": "bundle"},
        "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}], "state_dir": "state"}))
    return path


def test_a_manifest_threshold_count_given_as_null_is_refused_not_a_traceback(tmp_path):
    # Found by a sweep of the builtin bundle's manifest keys: on the old code check-config took a null
    # `threshold.n_peaks` for an absent one and said ok; `run` died building the threshold (TypeError: int()
    # argument must be … not 'NoneType'), exit 1 with a traceback.
    path = _bundle_config(tmp_path, lambda m: m["threshold"].update(n_peaks=None))
    for command in ("check-config", "run"):
        res = _agent(command, "-c", str(path), capture_output=True, input="")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert "scoring.bundle: " in res.stderr and \
            "invalid manifest: threshold.n_peaks: expected a whole number ≥ 0, got None" in res.stderr, res.stderr


def test_a_manifest_declaring_no_values_input_or_no_forecast_output_is_refused(tmp_path):
    # Found by the same sweep: on the old code check-config said ok, and at `run`'s start each model tier refused
    # the bundle ("manifest inputs: the model does not fit the agent: no values") — numpy alone, exit 0, where a
    # bundle that cannot score is a config problem (it never silently leaves only numpy).
    def no_values(m):
        m["inputs"] = [t for t in m["inputs"] if t["name"] != "values"]

    def no_forecast(m):
        m["outputs"] = [t for t in m["outputs"] if t["name"] != "forecast"]
    for edit, said in ((no_values, "manifest inputs: the model does not fit the agent: no values"),
                       (no_forecast, "manifest outputs: the model does not fit the agent: no forecast")):
        work = tmp_path / edit.__name__
        work.mkdir()
        res = _agent("check-config", "-c", str(_bundle_config(work, edit)), capture_output=True)
        assert res.returncode == 2, res.stderr
        assert said in res.stderr and "(the agent would only have the numpy fallback)" in res.stderr, res.stderr


@pytest.mark.slow
def test_the_front_door_fuzz_finds_no_mismatch_crash_or_record_problem():
    # bench/fuzz_front.py's short form, as processes (70 s at load 10 on a 2-core machine): 30 mutants of its
    # replay config (TLS and password files, three sinks), and the records half on stdin and a CSV replay.
    import json
    res = subprocess.run([sys.executable, str(REPO / "bench" / "fuzz_front.py"), "--part", "both", "--seed", "11",
                          "--mutants", "30", "--base", "replay", "--sources", "stdin,csv"], cwd=REPO, env=agent_env(),
                         capture_output=True, text=True, timeout=1800)
    out = json.loads(res.stdout)
    assert out["config"]["mutants"] >= 25 and not out["config"]["crashes"], out["config"]["crashes"]
    assert not out["config"]["mismatches"], out["config"]["mismatches"]
    assert not out["records"]["problems"], out["records"]["problems"]
    assert res.returncode == 0, res.stderr[-2000:]


def test_a_password_file_that_is_not_text_is_refused_at_its_key_path(tmp_path):
    # Found by the fuzz (industrial.yaml's sink password file → 1 KiB of bytes 0..255): on the old code check-config
    # said ok, and `run` ended at its start, exit 1: "cannot start: 'utf-8' codec can't decode byte 0x80 in
    # position 128", naming neither the file nor the key.
    from conftest import free_port
    (tmp_path / "password.bin").write_bytes(bytes(range(256)))
    path = _stdin_config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    cfg["sinks"].append({"type": "mqtt", "broker": {"host": "127.0.0.1", "port": free_port(), "username": "gw",
                                                    "password": {"file": "password.bin"}}})
    path.write_text(yaml.safe_dump(cfg))
    for command in ("check-config", "run"):
        res = _agent(command, "-c", str(path), capture_output=True, input="")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert (f"{path}: sinks[1].broker.password.file: {tmp_path / 'password.bin'} is not UTF-8 text (byte 0x80 at "
                "offset 128): the password is read as text") in res.stderr, res.stderr
