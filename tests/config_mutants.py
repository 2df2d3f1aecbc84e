"""The shipped configs made runnable on this machine, their mutants, and the two verdicts on one file:
what `check-config` says (in-process, as the CLI runs it) and whether the agent `run` would build
and reach READY (in-process: the same Agent, a real Notifier on a real notify socket).

The README promises that `check-config` catches everything `run` would refuse: tests/test_qa20_*.py
compare the two verdicts over many mutants instead of one hand-picked mistake at a time.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import tempfile
import threading
from pathlib import Path

import yaml

from conftest import REPO, NotifySocket, bench_module, free_port, wait_until

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
SHARED = "/work/shared/data"


def runnable(path: Path, work: Path) -> dict:
    """The shipped config at `path`, its files moved under `work` and its peers on free local ports:
    what a gateway has (/var/lib/stad-edge, /etc/credstore, the PLC) is not on this machine. The secrets
    and TLS files are left out (tests/test_qa9_tls_files.py and the matrix check those)."""
    data = yaml.safe_load(path.read_text())
    data["state_dir"] = str(work / "state")
    if "models_dir" in data.get("scoring", {}):
        data["scoring"]["models_dir"] = str(work / "models")
    for sink in data.get("sinks") or []:
        if sink["type"] == "jsonl":
            sink["path"] = str(work / "alerts.jsonl")
        elif sink["type"] == "mqtt":
            sink["broker"] = {"host": "127.0.0.1", "port": free_port()}
    for src in data["sources"]:
        if src["type"] in ("udp", "modbus"):
            src.update(port=free_port(), **({"host": "127.0.0.1"} if src["type"] == "modbus" else {}))
        elif src["type"] == "opcua":
            for key in ("username", "password", "security"):
                src.pop(key, None)
            src["url"] = f"opc.tcp://127.0.0.1:{free_port()}"
        elif src["type"] == "replay":
            for key in ("path", "labels_file"):
                if key in src:
                    src[key] = src[key].replace("../../shared/data", SHARED)
    return data


#: every key path of a loaded YAML document, parents first: bench/fuzz_config.py's (its mutants draw from the same)
key_paths = bench_module("fuzz_config").key_paths


# Values a mutant puts at a key: wrong types, out-of-range numbers, paths that are no file or no
# directory of the kind asked for (FILE and DIR: a file and a directory in the mutant's own
# directory, never the checkout's), a bundle directory that is no bundle.
FILE, DIR = "<a file>", "<a directory>"
VALUES = [None, "zz", "", -1, 0, 0.5, 1e12, float("nan"), [], {}, True, ["zz"], {"zz": 1},
          "/nonexistent/x", FILE, DIR, "builtin:zz", "2026-13-45T99:00:00Z", "127.0.0.1", 70000]


def mutate(data: dict, path: tuple, how: str, value=None, work: Path | None = None) -> dict | None:
    """A copy of `data` with the key at `path` deleted (`del`), set to `value` (`set`), given an unknown
    key (`unknown`, a mapping there), or its list entry doubled (`twice`, an entry of a list: two
    sensors, sources or sinks alike, one name or one port); None when `how` does not apply there.
    FILE and DIR become a file and a directory (holding a file) made in `work`."""
    if value in (FILE, DIR):
        (work / "a-dir").mkdir(exist_ok=True)
        (work / "a-dir" / "notes.txt").write_text("not a bundle\n")
        (work / "a-file.txt").write_text("not a config value\n")
        value = str(work / ("a-file.txt" if value == FILE else "a-dir"))
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if how == "del":
        del node[last]
    elif how == "set":
        node[last] = value
    elif how == "unknown" and isinstance(node[last], dict):
        node[last]["zz_unknown"] = 1
    elif how == "twice" and isinstance(node, list):
        node.append(copy.deepcopy(node[last]))
    else:
        return None
    return out


def check_config(path: Path) -> tuple[int, str]:
    """`stad-agent check-config -c path` in-process: (exit code, stderr). An exception is no verdict:
    it propagates (the CLI would print a traceback)."""
    from agent import cli
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["check-config", "-c", str(path)])
    return code, err.getvalue()


class _SourceFailures(logging.Handler):
    """The agent's 'source X failed' lines (a source whose thread raised): a source that passed
    check-config and ends at once is a refusal too, only later."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("source ") and record.getMessage().endswith(" failed"):
            self.failed.append(f"{record.getMessage()}: {record.exc_info[1]!r}" if record.exc_info else
                               record.getMessage())


def start(path: Path, timeout: float = 90.0) -> str | None:
    """What `run` does with a file check-config passed, up to READY: None when the agent was built and
    told systemd READY=1 (then it is stopped cleanly), else why it could not start — or the source
    that failed meanwhile: with a recording or a simulation it waits for the first record or the
    source's failure (a live source's peer is not there: one that fails later may be missed)."""
    from agent import config
    from agent.sdnotify import Notifier
    from agent.service import Agent
    cfg = config.load(path)         # check-config passed: load_config's checks are done
    failures = _SourceFailures()
    logging.getLogger("stad.agent").addHandler(failures)
    with tempfile.TemporaryDirectory(prefix="stad-notify-") as d:
        notify = NotifySocket(str(Path(d) / "notify"))
        try:
            try:
                agent = Agent(cfg, notifier=Notifier(notify.address))
            except Exception as exc:  # noqa: BLE001 — cmd_run exits 1 on it
                return f"Agent(): {type(exc).__name__}: {exc}"
            failed: list[str] = []

            def run() -> None:
                try:
                    agent.run()
                except Exception as exc:  # noqa: BLE001
                    failed.append(f"run(): {type(exc).__name__}: {exc}")
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            try:
                notify.wait_for("READY=1", timeout=timeout)
                if not any(src.live for src in agent.sources):      # a recording or a simulation: its first record
                    wait_until(lambda: agent.records_in or failures.failed or not thread.is_alive(), timeout)
            except AssertionError:
                return failed[0] if failed else "no READY=1"
            finally:
                agent.stop("test over")
                thread.join(timeout)
            return (failed + failures.failed or [None])[0]
        finally:
            notify.close()
            logging.getLogger("stad.agent").removeHandler(failures)
