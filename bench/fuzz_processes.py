"""bench/fuzz_front.py's processes: `stad-agent check-config` and `stad-agent run` started on a config, and their
verdicts read from what they print (the problems each names, a traceback, a hang).

Why a module of its own: the config part and the manifest part (bench/fuzz_config.py) judge each mutant by the same
two verdicts, and the records part (bench/fuzz_records.py) starts the agent the same way.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROCESS_TIMEOUT_S = 120.0
LIVE_GRACE_S = 4.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def agent_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CREDENTIALS_DIRECTORY", None)
    return env


def problems(stderr: str, config: Path) -> list[str]:
    """The lines naming a problem of `config` (check-config's and run's refusal lines)."""
    prefix = f"{config}: "
    return sorted(line for line in stderr.splitlines() if line.startswith(prefix) and "note:" not in line
                  and "problem(s)" not in line)


def check_config(config: Path) -> dict:
    try:
        res = subprocess.run(agent_cmd("check-config", "-c", str(config)), capture_output=True, text=True,
                             cwd=config.parent, env=agent_env(), timeout=PROCESS_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"code": None, "crash": "check-config hung", "problems": []}
    crash = "Traceback" in res.stderr
    return {"code": res.returncode, "crash": res.stderr[-1500:] if crash else None,
            "problems": problems(res.stderr, config), "stderr": res.stderr[-1500:],
            "notes": [line.split("note: ", 1)[1] for line in res.stderr.splitlines() if line.startswith(f"{config}: note: ")]}


def run(config: Path) -> dict:
    """`run --max-ticks 3`: its verdict (`started` or `refused`), its exit and why."""
    with open(config.parent / "run.err", "w+") as err:
        proc = subprocess.Popen(agent_cmd("run", "-c", str(config), "--max-ticks", "3"), stdout=subprocess.DEVNULL,
                                stderr=err, stdin=subprocess.PIPE, cwd=config.parent, env=agent_env(),
                                start_new_session=True)
        deadline, banner_at, signalled = time.monotonic() + PROCESS_TIMEOUT_S, None, False
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            text = Path(err.name).read_text(errors="replace")
            if banner_at is None and "  sink: " in text:
                banner_at = time.monotonic()
            if banner_at is not None and time.monotonic() - banner_at > LIVE_GRACE_S and not signalled:
                proc.send_signal(signal.SIGTERM)
                signalled = True
                deadline = time.monotonic() + 60
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"verdict": "hung", "code": None, "why": "run did not end", "problems": []}
        text = Path(err.name).read_text(errors="replace")
    code = proc.returncode
    failed = [line for line in text.splitlines() if re.search(r"source .* failed|cannot start", line)]
    data = yaml.safe_load(config.read_text()) or {}
    if isinstance(data, dict) and isinstance(data.get("scoring"), dict) and data["scoring"].get("bundle") \
            and "scoring: tier numpy" in text:      # every model tier refused the bundle: numpy alone
        failed += [line for line in text.splitlines() if "refused the bundle" in line] or ["numpy alone"]
    why = None
    if "Traceback" in text:
        why = "traceback: " + text[text.index("Traceback"):][-1200:]
    elif code not in (0, None):
        why = f"exit {code}: " + " | ".join(text.strip().splitlines()[-3:])[-600:]
    elif failed:
        why = failed[0][-600:]
    return {"verdict": "started" if why is None else "refused", "code": code, "why": why,
            "problems": problems(text, config)}


def disagreement(check: dict, ran: dict) -> dict:
    """What check-config's answer and run's verdict on one mutant say together: {"crash": …} for a hang or a
    traceback, {"noted": …} for a refusal by run of what check-config passed with notes, {"mismatch": …} for
    check-config 0 with run refusing, check-config 2 with run starting, or both 2 naming other problems; {} when they
    agree. One rule for bench/fuzz_config.py's mutants and bench/config_sweep.py's."""
    out = {}
    if ran["verdict"] == "hung":
        out["crash"] = "run hung"
    elif ran["why"] and ran["why"].startswith("traceback") and check["code"] == 0:
        out["crash"] = ran["why"]
    if check["code"] == 0 and ran["verdict"] == "refused" and check["notes"]:
        out["noted"] = f"check-config ok with notes {check['notes']}, run refused: {ran['why']}"
    elif check["code"] == 0 and ran["verdict"] == "refused":
        out["mismatch"] = f"check-config ok, run refused: {ran['why']}"
    elif check["code"] == 2 and ran["verdict"] == "started":
        out["mismatch"] = f"check-config refused ({check['problems']}), run started"
    elif check["code"] == 2 and ran["code"] == 2 and check["problems"] != ran["problems"]:
        out["mismatch"] = f"different words: check-config {check['problems']} run {ran['problems']}"
    return out
