"""Agents' lives whose state the next start takes over (active-bundle.json, the checkpoint), for the
lost-record tests (qa22, qa23): real Agents, a real shadow run and swap, real checkpoint files."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP, demo_cfg, drive_hotswap, sim_rows, variant, write_manifest


def close(agent) -> None:
    """What the daemon's stop releases: the sinks, the metrics endpoint, the state_dir lock."""
    if agent.metrics is not None:
        agent.metrics.close()
    for sink in agent.sinks:
        sink.close()
    agent.state_lock.release()


def checkpointed_life(cfg) -> None:
    """An agent on `cfg` that warmed up and wrote a checkpoint (and, at its start, active-bundle.json
    where models_dir is configured)."""
    from agent.service import Agent
    agent = Agent(cfg)
    try:
        for row in sim_rows(cfg, days=0.2)[:cfg.warmup.ticks + 20]:
            agent.pipeline.step(row)
        assert agent.pipeline.warm
        assert agent.save_checkpoint() is not None
    finally:
        close(agent)


def swapped_in_life(cfg, model_id: str) -> None:
    """`cfg` (its `scoring.bundle` configured, a bundle in `scoring.models_dir` whose manifest says
    `model_id`) run until the newest models_dir bundle is swapped in (SIGHUP's way: shadowed, then
    accepted), then a checkpoint written with it, and the agent stopped."""
    from agent.service import Agent
    agent = Agent(cfg)
    try:
        pipe, swap = agent.pipeline, agent.hotswap
        swap.poll_ticks = 2
        swap.request()
        drive_hotswap(pipe, swap, sim_rows(cfg, days=0.2), until=lambda: swap.status()["last"] is not None)
        last = swap.status()["last"]
        assert (last["accepted"], last["model_id"]) == (True, model_id), last
        assert pipe.bundle_identity()["model_id"] == model_id
        assert agent.save_checkpoint() is not None
    finally:
        close(agent)


def demo_swapped_in(tmp_path: Path) -> Path:
    """`tmp_path/models/a` (the demo bundle as model demo-a), swapped in by a life of the demo config
    (the demo bundle configured, `tmp_path/models` its models_dir, state in `tmp_path/state`) that then
    wrote a checkpoint; its path. Skips the test without the runtimes the demo bundle's tiers need."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    models = tmp_path / "models"
    models.mkdir()
    swapped = models / "a"
    shutil.copytree(variant("demo-a", src=DEMO_BUNDLE, model_id="demo-a"), swapped, copy_function=shutil.copy)
    swapped_in_life(demo_cfg(tmp_path / "state", warmup_ticks=HOTSWAP_WARMUP, bundle=str(DEMO_BUNDLE),
                             models_dir=str(models), shadow_ticks=3), "demo-a")
    return swapped


def fingerprint_of(pipe) -> dict:
    """The pipeline's checkpoint fingerprint (what a restart compares)."""
    from agent.checkpoint import fingerprint
    from agent.topology import adjacency
    return fingerprint(pipe.cfg, adjacency(pipe.specs, pipe.cfg.topology), pipe.bundle_identity())


def restart_onto(pipe, cfg, state_dir: Path):
    """(a pipeline of `cfg` restored from the checkpoint file `pipe` writes into `state_dir`, the checkpoint's
    tier mismatch or None), as the agent's start does it (agent/resume.py): one taken with another bundle or
    profile resumed but for the model tier (swap5)."""
    from agent.checkpoint import CheckpointStore, tier_mismatch
    from agent.pipeline import Pipeline
    state_dir.mkdir(exist_ok=True)
    store = CheckpointStore(state_dir)
    store.save({"config": fingerprint_of(pipe)}, {"pipeline": pipe.state_dict()})
    new = Pipeline(cfg)
    current = fingerprint_of(new)
    meta, state = store.load(current, tier_apart=True)
    why = tier_mismatch(meta["config"], current)
    new.restore(state["pipeline"], why)
    return new, why


def rollback_agent_config(tmp_path: Path, configured: Path, models: Path, **scoring) -> Path:
    """The config file of a real agent process (`stad-agent run`) on the demo, `configured` its scoring.bundle,
    polling `models` every 2 ticks, 3 shadow ticks, alert agreement not judged (whether a shadow agrees depends on
    where in the demo it falls, not on the bundle), 300 warm-up ticks, 20 ticks a second once the fast-forward is
    over (swap7, swap8); `scoring`: more keys."""
    import yaml

    from conftest import demo_dict

    d = demo_dict(tmp_path, bundle=str(configured), models_dir=str(models), shadow_ticks=3, models_poll_ticks=2,
                  **{"shadow_min_agreement": 0.0, **scoring})
    d["warmup"]["ticks"] = 300
    d["sources"][0]["speed"] = 600
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def log_waiter(log: Path):
    """(lines, logged) on an agent's log file: how many lines it has now, and the first line after `after` holding
    `text`, waited for (120 s; failing with the bundle lines logged since)."""
    from conftest import wait_for

    def lines() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    def logged(text: str, after: int, proc) -> str:
        try:
            return wait_for(lambda: next((ln for ln in log.read_text().splitlines()[after:] if text in ln), None),
                            f"{text!r} in the agent's log", 120.0, proc)
        except AssertionError as exc:
            since = [ln for ln in log.read_text().splitlines()[after:] if "model update" in ln or "bundle" in ln]
            raise AssertionError("\n".join([str(exc), "bundle lines since:", *since[-20:]])) from None

    return lines, logged


def release_copy(out: Path, model_id: str, threshold: float | None = None, off_scale: list[str] | None = None) -> Path:
    """The demo bundle copied to `out` as `model_id`; `threshold`: its manifest threshold (1e-3: above it at every
    tick, an alert each); `off_scale`: those sensors' normalisation that of readings 100× larger (another plant)
    (swap8, swap9)."""
    from agent.bundle import read_manifest
    from agent.manifest import Normalisation

    shutil.copytree(DEMO_BUNDLE, out, dirs_exist_ok=True)
    m = read_manifest(out)
    changes = {"model_id": model_id}
    if threshold is not None:
        changes["threshold"] = {**m.threshold, "value": threshold}
    if off_scale:
        mean, std = dict(m.normalisation.mean), dict(m.normalisation.std)
        for name in off_scale:
            mean[name] *= 100.0
            std[name] *= 100.0
        changes["normalisation"] = Normalisation(mean=mean, std=std)
    write_manifest(out, dataclasses.replace(m, **changes))
    return out


def stopped_clean(proc, log: Path) -> None:
    """An agent process's log without a traceback, and the agent stopped by SIGINT with exit 0."""
    from conftest import interrupt_agent

    assert "Traceback" not in log.read_text()
    assert interrupt_agent(proc) == 0


def kill_left(proc) -> None:
    """An agent process still running when its test ends (a failed wait), killed."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
