"""A source or a sink given twice, every key alike — most easily through a YAML alias (`sources: [&s {…}, *s]`),
which the chaos5 round's config fuzz (bench/fuzz_config.py `yaml_form`) writes. On the code before, check-config said ok
and the agent ran both: a recording replayed twice stepped its time base back and forth (25 alert events where the
file alone gives 2), two JSONL sinks wrote every event twice into one file, two stdin readers split one input."""
from __future__ import annotations

import math

import pytest

from conftest import REPO
from entries_twice_agent import config_text, run_agent

SENSORS = "[a, b, c]"


@pytest.mark.parametrize("sources, sinks, where, problem", [
    ("[&s {type: replay, path: rec.csv}, *s]", "[{type: jsonl, path: alerts.jsonl}]", "sources[1]",
     "the same as sources[0], every key alike (an entry twice, or a YAML alias repeating it): every record would be "
     "read twice, or one input split between the two; remove one"),
    ("[{type: replay, path: rec.csv}]", "[&j {type: jsonl, path: alerts.jsonl}, {type: terminal}, *j]", "sinks[2]",
     "the same as sinks[0], every key alike (an entry twice, or a YAML alias repeating it): every alert event would "
     "be sent twice; remove one"),
    ("[{type: stdin}, {type: stdin}]", "[{type: jsonl, path: alerts.jsonl}]", "sources[1]",
     "the same as sources[0], every key alike"),
])
def test_an_entry_twice_is_refused_by_check_config_and_run_at_its_key_path(tmp_path, sources, sinks, where, problem):
    (tmp_path / "rec.csv").write_text("timestamp,a,b,c\n" + "".join(
        f"{1_767_600_000 + k},{math.sin(k / 5):.4f},{math.cos(k / 7):.4f},{1 + 0.1 * math.sin(k / 3):.4f}\n"
        for k in range(300)))
    config = tmp_path / "agent.yaml"
    config.write_text(config_text(SENSORS, sources, sinks))
    for args in (("check-config",), ("run", "--max-ticks", "3")):
        res = run_agent(*args, "-c", str(config), cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        assert f"{config}: {where}: {problem}" in res.stderr, (args, res.stderr[-2000:])
        assert "Traceback" not in res.stderr


def test_two_entries_alike_but_one_key_are_no_problem(tmp_path):
    # the same recording read for two sets of sensors: legitimate, not an entry twice
    (tmp_path / "rec.csv").write_text("timestamp,a,b,c\n" + "".join(
        f"{1_767_600_000 + k},{k % 7},{k % 5},{k % 3}\n" for k in range(200)))
    config = tmp_path / "agent.yaml"
    config.write_text(config_text(SENSORS,
        sources="[{type: replay, path: rec.csv, columns: {a: a, b: b}}, "
                "{type: replay, path: rec.csv, columns: {c: c}}]",
        sinks="[{type: jsonl, path: alerts.jsonl}, {type: jsonl, path: more.jsonl}]"))
    res = run_agent("check-config", "-c", str(config), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
