"""`check-config` catches everything `run` would refuse (README, Configuration reference), checked over
mutants of every shipped config rather than one hand-picked mistake at a time.

Each shipped config is first made runnable here (tests/config_mutants.py: its files under a temporary
directory, its peers on free local ports), then mutated at one key path: the key dropped, a value of
another type, out of range, a path that is no file or no directory, a bundle that is none, an unknown
key, a list entry doubled (two sensors of one name, two sources on one port). For each mutant,
check-config (in-process, as the CLI runs it) must answer 0 or 2 without a traceback, and when it
answers 0 the agent must build and reach READY=1 on a real notify socket. The other direction needs
no sampling: `run` checks its file with the same function (cli.load_config) before it builds anything,
so what check-config refuses, `run` refuses with exit 2 too (one example below, through the CLI).

The short form draws 40 mutants (derandomized: the same ones on every run, ~30 s); `-m slow` draws 400
at random.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from config_mutants import CONFIGS, VALUES, check_config, key_paths, mutate, runnable, start
from conftest import REPO, agent_env

HOWS = ["del", "set", "set", "set", "unknown", "twice"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_each_shipped_config_made_runnable_passes_check_config_and_starts(tmp_path, path):
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump(runnable(path, tmp_path), sort_keys=False))
    code, err = check_config(f)
    assert code == 0, err
    assert start(f) is None


def _agree(data) -> None:
    path = data.draw(st.sampled_from(CONFIGS), label="config")
    with tempfile.TemporaryDirectory(prefix="stad-qa20-") as d:
        work = Path(d)
        base = runnable(path, work)
        key = data.draw(st.sampled_from(key_paths(base)), label="key path")
        how = data.draw(st.sampled_from(HOWS), label="how")
        mutant = mutate(base, key, how, data.draw(st.sampled_from(VALUES), label="value") if how == "set" else None,
                        work=work)
        assume(mutant is not None)
        f = work / "agent.yaml"
        f.write_text(yaml.safe_dump(mutant, sort_keys=False))
        code, err = check_config(f)
        assert code in (0, 2) and "Traceback" not in err, err[-2000:]
        if code == 0:
            why = start(f)
            assert why is None, f"check-config passed {path.name} with {how} {key}, but run: {why}"


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_check_config_passes_only_what_run_starts(data):
    _agree(data)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_check_config_passes_only_what_run_starts_many(data):
    _agree(data)


# ---- the mutants that found a difference, each kept as an example -----------------------------------

def _demo_with(tmp_path: Path, path: tuple, how: str, value=None) -> Path:
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump(mutate(runnable(REPO / "configs" / "demo.yaml", tmp_path), path, how, value,
                                       work=tmp_path), sort_keys=False))
    return f


@pytest.mark.parametrize("value", [{}, [], ["jsonl"]], ids=["mapping", "empty list", "list"])
@pytest.mark.parametrize("where", ["sources", "sinks"])
def test_a_type_that_is_no_string_is_a_problem_at_its_key_path(tmp_path, where, value):
    # On the old code check-config (and run) died of `TypeError: unhashable type` with a traceback.
    code, err = check_config(_demo_with(tmp_path, (where, 0, "type"), "set", value))
    assert code == 2
    assert f"{where}[0].type: must be one of " in err, err
    assert "1 problem(s); nothing started" in err


@pytest.mark.parametrize("start_at", ["tomorrow", "2026-13-45T99:00:00Z", "05/01/2026 06:00"])
def test_a_simulated_start_the_source_cannot_read_is_refused_by_check_config(tmp_path, start_at):
    # On the old code check-config said ok, and run exited 1: "cannot start: Invalid isoformat string".
    code, err = check_config(_demo_with(tmp_path, ("sources", 0, "start"), "set", start_at))
    assert code == 2
    assert "sources[0].start: not an ISO-8601 time such as 2026-01-05T06:00:00Z" in err, err


def test_run_refuses_what_check_config_refuses_with_exit_2(tmp_path):
    f = _demo_with(tmp_path, ("sources", 0, "start"), "set", "tomorrow")
    res = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(f)], capture_output=True, text=True,
                         cwd=REPO, env=agent_env(), timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "sources[0].start: not an ISO-8601 time" in res.stderr and "nothing started" in res.stderr


def _industrial_with(tmp_path: Path, path: tuple, how: str, value=None) -> Path:
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump(mutate(runnable(REPO / "configs" / "industrial.yaml", tmp_path), path, how, value,
                                       work=tmp_path), sort_keys=False))
    return f


@pytest.mark.parametrize("address", [70000, -1])
def test_a_register_address_pymodbus_refuses_is_refused_by_check_config(tmp_path, address):
    # On the old code check-config said ok; `run` started, and the first poll of a real device raised
    # pymodbus's ValueError ('0 <= address 70000 <= 65535 !'): the source ended, and the agent with it
    # ('input ended', exit 0 — not restarted by systemd).
    code, err = check_config(_industrial_with(tmp_path, ("sources", 0, "registers", "accel1"), "set", address))
    assert code == 2
    assert f"sources[0].registers.accel1: a holding register address is 0..65535, got {address}" in err, err


def test_a_modbus_source_without_registers_or_with_a_scale_it_does_not_read_is_refused(tmp_path):
    # On the old code both passed: a source that never gives a reading, and a scale applied to nothing.
    code, err = check_config(_industrial_with(tmp_path, ("sources", 0, "registers"), "set", {}))
    assert code == 2 and "sources[0].registers: at least one sensor -> register address is required" in err, err
    code, err = check_config(_industrial_with(tmp_path, ("sources", 0, "registers", "flow"), "del"))
    assert code == 2 and "sources[0].scale.flow: no register is read for this sensor" in err, err
    assert "1 problem(s)" in err


def test_a_broker_password_without_a_user_name_is_refused(tmp_path):
    # On the old code check-config said ok and the client dropped the password without a word: the
    # broker saw an anonymous client.
    f = _industrial_with(tmp_path, ("sinks", 1, "broker", "password"), "set", {"env": "HOME"})
    code, err = check_config(f)
    assert code == 2
    assert "sinks[1].broker.password: given without username" in err, err


@pytest.mark.parametrize("separator", [";;", "", "\n", "tab"])
def test_a_csv_separator_the_replay_cannot_use_is_refused_by_check_config(tmp_path, separator):
    # On the old code check-config said ok; `run` started and the replay ended at its first file
    # (TypeError: "delimiter" must be a 1-character string), the agent with it ('input ended').
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump(mutate(runnable(REPO / "configs" / "skab.yaml", tmp_path),
                                       ("sources", 0, "separator"), "set", separator), sort_keys=False))
    code, err = check_config(f)
    assert code == 2
    assert "sources[0].separator: one character that is no line end" in err, err


def test_a_poll_period_the_source_cannot_wait_is_refused_by_check_config(tmp_path):
    # Found by mutating industrial.yaml against a real Modbus device: on the old code poll_s 1e12 passed,
    # and the source's first wait raised OverflowError ('timestamp out of range for platform time_t').
    code, err = check_config(_industrial_with(tmp_path, ("sources", 0, "poll_s"), "set", 1e12))
    assert code == 2
    assert "sources[0].poll_s: must be <= 86400" in err, err
