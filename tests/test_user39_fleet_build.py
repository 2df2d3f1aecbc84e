"""A fleet tells which build each gateway runs, and which resumed another build's checkpoint (user39).

Every build of stad-edge says version 0.1.0: the retained health of 40 gateways during an upgrade could not tell
which gateways the upgrade had reached, nor the first start after it (or after a rollback) from any restart — nor
could the gateway's own log. Health now carries `agent_build` (version, a digest of the agent package's files, and
the build that wrote the checkpoint this life resumed), a checkpoint records its build, and a start that resumes
another build's checkpoint says so in the log and in `checkpoint_at_start.detail`; `stad-agent --version` names
the build. On 740108ec: no `agent_build` in health, nothing said at the first start after an upgrade.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from agent import config
from agent.build_id import build
from agent.checkpoint import CHECKPOINT_FILE, decode, encode
from agent.service import Agent
from payloads import check
from pump_health_config import pump_config

REPO = Path(__file__).resolve().parents[1]


def life(path: Path, max_ticks: int, published: list | None = None) -> dict:
    """One run of the agent; its last health, checked against the schema as the MQTT sink publishes it (and kept in
    `published`, as that payload)."""
    agent = Agent(config.load(str(path)), max_ticks=max_ticks)
    summary = agent.run()
    [mqtt] = [s for s in agent.sinks if s.TYPE == "mqtt"]
    payload = check("health", mqtt.health_payload(summary))
    if published is not None:
        published.append(json.dumps(payload).encode())
    return summary


def rewrite_header(checkpoint: Path, **header) -> None:
    """The checkpoint as another build wrote it: its header's `agent_build` replaced (None: left out)."""
    meta, state = decode(checkpoint.read_bytes())
    meta.pop("agent_build", None)
    meta.update({k: v for k, v in header.items() if v is not None})
    checkpoint.write_bytes(encode(meta, state))


def test_health_names_the_build_and_the_build_whose_checkpoint_it_resumed(tmp_path, caplog):
    path = pump_config(tmp_path)
    mine = build()
    first = life(path, 150)
    assert first["agent_build"] == {"version": "0.1.0", "build": mine, "checkpoint_build": None}
    checkpoint = tmp_path / "state" / CHECKPOINT_FILE
    assert decode(checkpoint.read_bytes())[0]["agent_build"] == {"version": "0.1.0", "build": mine}

    again = life(path, 5)                           # a restart on the same build: said as before
    assert again["agent_build"]["checkpoint_build"] == mine
    assert "written by" not in again["checkpoint_at_start"]["detail"]

    rewrite_header(checkpoint, agent_build={"version": "0.1.0", "build": "0123456789ab"})
    with caplog.at_level(logging.INFO, logger="stad.agent"):
        upgraded = life(path, 5)                    # the first start after an upgrade (or a rollback)
    assert upgraded["agent_build"] == {"version": "0.1.0", "build": mine, "checkpoint_build": "0123456789ab"}
    said = f"written by build 0123456789ab (0.1.0); this is build {mine} (0.1.0)"
    assert upgraded["checkpoint_at_start"]["state"] == "resumed"
    assert said in upgraded["checkpoint_at_start"]["detail"]
    assert any(said in r.getMessage() and "loaded" in r.getMessage() for r in caplog.records), caplog.text
    [first_line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stad-agent ")]
    assert first_line.endswith(f"; build {mine}"), first_line      # the journal names the build that runs

    rewrite_header(checkpoint, agent_build=None)    # a release before builds were recorded
    earlier = life(path, 5)
    assert earlier["agent_build"]["checkpoint_build"] == "unrecorded"
    assert "written by an earlier release (no build recorded)" in earlier["checkpoint_at_start"]["detail"]


def _build_of(package_parent: Path) -> str:
    res = subprocess.run([sys.executable, "-c", "from agent.build_id import build; print(build())"],
                         cwd=package_parent, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_two_installs_of_one_release_agree_and_a_changed_one_differs(tmp_path):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("a", "b"):
        shutil.copytree(REPO / "agent", tmp_path / name / "agent", ignore=ignore)
    assert _build_of(tmp_path / "a") == _build_of(tmp_path / "b") == build()
    changed = tmp_path / "b" / "agent" / "alerts.py"
    changed.write_text(changed.read_text() + "\n")
    assert _build_of(tmp_path / "b") != build()
    (tmp_path / "b" / "agent" / "gone.py").symlink_to(tmp_path / "nowhere.py")     # a file it cannot read
    assert _build_of(tmp_path / "b") == "unknown"                                    # said so, the start goes on
    res = subprocess.run([sys.executable, "-m", "agent", "--version"], cwd=tmp_path / "a", capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(tmp_path / "a"), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and res.stdout == f"stad-edge 0.1.0 (build {build()})\n", res


def test_the_control_rooms_table_says_each_gateways_build_as_it_changes(tmp_path):
    """docs/examples/control_room.py (the consumer docs/mqtt.md describes) on the agent's real health payloads: a
    gateway's new build is said once, with whether it resumed its state or started cold."""
    spec = importlib.util.spec_from_file_location("control_room", REPO / "docs" / "examples" / "control_room.py")
    room = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(room)
    path = pump_config(tmp_path)
    checkpoint = tmp_path / "state" / CHECKPOINT_FILE
    healths: list[bytes] = []
    life(path, 150, healths)                        # the first start: cold
    rewrite_header(checkpoint, agent_build=None)    # as a release before builds wrote it…
    life(path, 5, healths)                          # …resumed by this build
    shutil.rmtree(tmp_path / "state")
    life(path, 150, healths)                        # this build, its state lost: cold
    table = room.IncidentTable()
    said = [table.take("stad/lab/gw-07/health", h, "stad") for h in healths]
    old = json.loads(healths[0])
    del old["agent_build"]                          # what the earlier release's health said (no agent_build)
    said_after_old = [table.take("stad/lab/gw-08/health", h, "stad") for h in (json.dumps(old).encode(), healths[1])]
    mine = build()
    assert said[0] is None                          # the first health seen: nothing to compare with
    assert said[1] is None and said[2] is None      # the same build restarting, resumed or cold, is no change
    assert said_after_old == [None, f"lab/gw-08 runs build {mine} (was a release that sends no build): resumed its "
                                    "state"]
    table.nodes["lab/gw-07"]["build"] = "0123456789ab"      # the gateway last ran another build: then this one, cold
    line = table.take("stad/lab/gw-07/health", healths[2], "stad")
    assert line == f"lab/gw-07 runs build {mine} (was build 0123456789ab): started cold (checkpoint none)", line
