"""One file named two ways in two entries otherwise alike (chaos5's "seen, left"; the chaos6 round). `entries_twice`
compared the paths as written: `alerts.jsonl` beside `./alerts.jsonl`, an absolute path to it or a symlink to it were
two sinks, every alert event written twice into one file (and a recording so named read twice) — check-config said
ok. Now the file is compared: as written less `./` at load, as this host resolves it in preflight. The real agent,
check-config and run, on real files and a real symlink."""
from __future__ import annotations

import math
import os

import pytest

from entries_twice_agent import config_text, run_agent

SENSORS = "[a, b]"


def _write(tmp_path, sources: str, sinks: str):
    (tmp_path / "rec.csv").write_text("timestamp,a,b\n" + "".join(
        f"{1_767_600_000 + k},{math.sin(k / 5):.4f},{math.cos(k / 7):.4f}\n" for k in range(300)))
    os.symlink(tmp_path / "rec.csv", tmp_path / "linked.csv")
    os.symlink(tmp_path / "alerts.jsonl", tmp_path / "linked.jsonl")      # (a link to a file not yet made)
    config = tmp_path / "conf" / "agent.yaml"
    config.parent.mkdir()
    config.write_text(config_text(SENSORS, sources, sinks))
    return config


@pytest.mark.parametrize("spelt", ["./{name}", "{dir}/{name}", "{dir}/./{name}", "{dir}/linked.{ext}",
                                   "../../{tail}/{name}"])
@pytest.mark.parametrize("what", ["sources", "sinks"])
def test_one_file_spelt_two_ways_is_an_entry_twice(tmp_path, spelt, what):
    name, ext = ("rec.csv", "csv") if what == "sources" else ("alerts.jsonl", "jsonl")
    other = "../" + name                    # the config is in tmp/conf: its files one directory up
    again = spelt.format(name=name, dir=tmp_path, ext=ext, tail=tmp_path.name)
    if again.startswith("./"):
        again, other = "../" + again, "../" + name          # `.././alerts.jsonl` beside `../alerts.jsonl`
    if what == "sources":
        config = _write(tmp_path, f"[{{type: replay, path: '{other}'}}, {{type: replay, path: '{again}'}}]",
                        "[{type: terminal}]")
    else:
        config = _write(tmp_path, "[{type: replay, path: ../rec.csv}]",
                        f"[{{type: jsonl, path: '{other}'}}, {{type: jsonl, path: '{again}'}}]")
    for args in (("check-config",), ("run", "--max-ticks", "3")):
        res = run_agent(*args, "-c", str(config), cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr[-2000:])
        said = f"{config}: {what}[1]: the same as {what}[0], every key alike"
        assert said in res.stderr and f"path {other!r} and {again!r} are one file" in res.stderr, \
            (args, res.stderr[-2000:])
        assert "Traceback" not in res.stderr


def test_two_files_are_still_two_entries(tmp_path):
    config = _write(tmp_path, "[{type: replay, path: ../rec.csv}]",
                    "[{type: jsonl, path: ../alerts.jsonl}, {type: jsonl, path: ./alerts.jsonl}]")  # conf/alerts.jsonl
    res = run_agent("check-config", "-c", str(config), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
