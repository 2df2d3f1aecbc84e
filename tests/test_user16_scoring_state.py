"""What scores a tick now, said alike by Prometheus, health (the retained health topic) and systemd's status line
(agent/scoring_state.py). Before: `stad_scoring_tier` and health's `tier` named the chain's active tier whatever
happened — `{tier="tflite"} 1` through the warm-up and the window's refill, when no tier scores, and `{tier="numpy"}
1` through the planned wait after a restart onto another profile exactly as after a fault (user13's question 5,
user14; user16). Real parts: the demo bundle made by convert/, a checkpoint a first Agent wrote, a recording written
as a CSV file, the Agent with its metrics endpoint scraped over HTTP, a bound NOTIFY_SOCKET."""
from __future__ import annotations

import json
import shutil
import urllib.request
import uuid

import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("prometheus_client")

from conftest import NO_DEMO, REPO, NotifySocket, demo_cfg, demo_dict, free_port  # noqa: E402
from upgrade_replay import PROFILE, WARMUP, profile_off_state, write_recording  # noqa: E402

from agent.config import from_dict  # noqa: E402
from agent.sdnotify import Notifier  # noqa: E402
from agent.service import Agent  # noqa: E402

pytestmark = NO_DEMO
HEALTH_SCHEMA = REPO / "agent" / "schemas" / "health.schema.json"


def _cfg(d: dict):
    d["metrics"] = {"listen": f"127.0.0.1:{free_port()}"}
    return from_dict(d, base_dir=str(REPO))


def _metrics_text(agent: Agent) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{agent.metrics.port}/metrics", timeout=30) as r:
        return r.read().decode()


def _scrape(agent: Agent) -> dict[str, float]:
    """stad_scoring_tier and stad_scoring_state as served now, over HTTP: {'tier=tflite': 1.0, 'state=warming': …}."""
    text = _metrics_text(agent)
    out = {}
    for line in text.splitlines():
        if line.startswith(("stad_scoring_tier{", "stad_scoring_state{")):
            series, value = line.rsplit(" ", 1)
            out[series.split("{", 1)[1].rstrip("}").replace('"', "")] = float(value)
    return out


def _served(agent: Agent) -> tuple[str | None, str | None]:
    """(the one tier served as 1 or None, the one state served as 1)."""
    got = _scrape(agent)
    tiers = [k.split("=", 1)[1] for k, v in got.items() if k.startswith("tier=") and v == 1]
    states = [k.split("=", 1)[1] for k, v in got.items() if k.startswith("state=") and v == 1]
    assert len(tiers) <= 1 and len(states) == 1, got
    return (tiers[0] if tiers else None), states[0]


def _valid(snap: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    payload = json.loads(json.dumps(snap, default=str))
    jsonschema.validate(payload["scoring"], json.loads(HEALTH_SCHEMA.read_text())["properties"]["scoring"])


def _close(agent: Agent) -> None:
    for sink in agent.sinks:
        sink.close()
    if agent.metrics is not None:
        agent.metrics.close()


@pytest.fixture(scope="module")
def old_state(tmp_path_factory):
    """A state_dir whose checkpoint an agent with the profile off wrote (the release before skab32)."""
    return profile_off_state(tmp_path_factory.mktemp("old"))


def test_the_warm_up_serves_warming_and_no_tier_then_the_tier_that_scores(tmp_path):
    d = demo_dict(tmp_path / "state")
    d["warmup"]["ticks"] = WARMUP
    notify = NotifySocket(str(tmp_path / f"notify-{uuid.uuid4().hex[:6]}"))
    agent = Agent(_cfg(d), max_ticks=WARMUP + 20, notifier=Notifier(notify.address))
    try:
        assert agent.health_snapshot()["tier"] == "tflite"          # the chain's active tier: the one that will score
        assert agent.health_snapshot()["scoring"] == {"state": "warming", "tier": None, "waiting": None}
        assert _served(agent) == (None, "warming")                  # main: stad_scoring_tier{tier="tflite"} 1
        agent.run()
        assert agent.last_health["scoring"] == {"state": "scoring", "tier": "tflite", "waiting": None}
        _valid(agent.last_health)
        statuses = notify.lines("STATUS=tier=")
        assert statuses[0].startswith("STATUS=tier=warming "), statuses
        assert statuses[-1].startswith("STATUS=tier=tflite "), statuses
    finally:
        _close(agent)
        notify.close()


def test_the_planned_wait_after_an_upgrade_is_served_as_planned_with_numpy_scoring(old_state, tmp_path):
    state = tmp_path / "state"
    shutil.copytree(old_state, state)
    d = demo_dict(state, profile=PROFILE)          # the profile on: upgraded_cfg's, with the metrics endpoint
    d["warmup"]["ticks"] = WARMUP
    agent = Agent(_cfg(d), max_ticks=5)
    try:
        assert agent.pipeline.tier_waits == "scoring.profile changed"
        want = {"state": "fallback_planned", "tier": "numpy", "waiting": "scoring.profile changed"}
        assert agent.health_snapshot()["scoring"] == want
        assert _served(agent) == ("numpy", "fallback_planned")      # main: numpy 1, as after a fault, nothing more
        _valid(agent.health_snapshot())
    finally:
        _close(agent)


def test_the_refill_after_warmup_replay_serves_refilling_and_no_tier(tmp_path):
    recording = tmp_path / "normal.csv"
    write_recording(recording, demo_cfg(tmp_path / "sim"), WARMUP + 60)
    d = demo_dict(tmp_path / "state")
    d["warmup"].update(ticks=WARMUP, replay=str(recording))
    notify = NotifySocket(str(tmp_path / f"notify-{uuid.uuid4().hex[:6]}"))
    agent = Agent(_cfg(d), max_ticks=3, notifier=Notifier(notify.address))   # fewer than the window's 32 steps
    try:
        assert agent.pipeline.warm and agent.pipeline.refill > 3
        assert agent.health_snapshot()["scoring"] == {"state": "refilling", "tier": None, "waiting": None}
        assert _served(agent) == (None, "refilling")                # main: stad_scoring_tier{tier="tflite"} 1
        # stad_warm is 1 now and no tick is scored: its help must not say they are (user17; it said "1 once warm-up
        # is done and ticks are scored")
        text = _metrics_text(agent)
        assert "\nstad_warm 1.0\n" in text, text
        [help_line] = [line for line in text.splitlines() if line.startswith("# HELP stad_warm ")]
        assert "ticks are scored" not in help_line and "refills" in help_line, help_line
        assert "stad_scoring_state" in help_line, help_line
        agent.run()
        assert agent.last_health["scoring"]["state"] == "refilling"
        assert notify.lines("STATUS=tier=")[-1].startswith("STATUS=tier=refilling "), notify.lines("STATUS=")
    finally:
        _close(agent)
        notify.close()
