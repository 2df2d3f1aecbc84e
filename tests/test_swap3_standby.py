"""Standby tiers, swap3: a standby stepped down to is taught the recent ticks' scores as a tier loaded at start
was taught the warm-up's; a hot swap's candidate keeps its lower tiers on standby (onnxruntime never imported
across it); a standby whose runtime is not installed is said at start and by check-config, found without
importing it.

All real: the shipped demo bundle, both runtimes, tflite broken as tests/test_perf50_standby.py does it (its
C++ interpreter's input resized under the scorer: its next invoke raises), `stad-agent` in its own process
where what is imported is asserted (this process has imported both runtimes already).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from conftest import (DEMO_BUNDLE, NO_DEMO, agent_env, bench_module, demo_dict, hotswap_pipeline,  # noqa: E402
                      sim_rows)
from standby_faults import CHAIN, WARMUP, break_tflite, judged_after_a_fault, learning_cfg  # noqa: E402

from agent.bundle import Expectation  # noqa: E402
from agent.pipeline import Pipeline  # noqa: E402
from agent.scorers import load_tiers  # noqa: E402
from agent.scorers.standby import StandbyTier  # noqa: E402

pytestmark = NO_DEMO


def test_a_standby_is_taught_the_recent_ticks_as_a_loaded_tier_was_taught_the_warmup(tmp_path):
    cfg = learning_cfg(tmp_path)
    rows = sim_rows(cfg, days=0.3)
    standby = Pipeline(cfg)
    loaded = Pipeline(cfg, tiers=load_tiers(cfg.scoring, str(DEMO_BUNDLE), Expectation.from_config(cfg),
                                            cfg.alerts.top_k, cfg.base_dir)[0])
    assert isinstance(standby.chain.tiers[1], StandbyTier) and not isinstance(loaded.chain.tiers[1], StandbyTier)
    ticks = iter(rows)
    for r in ticks:
        standby.step(r)
        loaded.step(r)
        if standby.warm:
            break
    # The standby keeps the warm-up's ticks for its load (no profile here: its threshold learns from them); no
    # recent ticks are kept for it (they are, with a profile, for a hot swap).
    z, missing, ts, calm = standby.chain.tiers[1].ticks
    assert z.shape == (WARMUP, 18) and calm.all() and standby.recent is None and loaded.recent is None
    judged_after_a_fault(standby, loaded, ticks, cfg.window.steps)


@pytest.mark.parametrize("profile", [False, True])
def test_a_hot_swap_keeps_the_candidates_lower_tiers_on_standby(tmp_path, profile):
    """In process: the swapped-in chain's onnx is a StandbyTier, and a fault after the swap loads it. With a
    profile it keeps the recent ticks its top tier was fitted on, to be fitted on them too when it loads."""
    pipe, swap, _ = hotswap_pipeline(tmp_path, bundle=DEMO_BUNDLE, chain=CHAIN, probation_ticks=100000,
                                     profile={"enabled": profile, "min_ticks": 100})
    rows = sim_rows(pipe.cfg, days=0.2)
    ticks = iter(rows)
    for r in ticks:
        swap.on_tick(pipe.step(r))
        if pipe.warm:
            break
    before = pipe.chain.tiers
    swap.request("test")
    for r in ticks:
        swap.on_tick(pipe.step(r))
        if swap._loading is not None:
            swap._loading.join(timeout=240)
        if swap.accepted:
            break
    assert swap.accepted == 1 and pipe.chain.tiers is not before
    assert [t.TYPE for t in pipe.chain.tiers] == CHAIN and isinstance(pipe.chain.tiers[1], StandbyTier)
    assert pipe.chain.tiers[1].bundle is not before[1].bundle          # the candidate's, verified afresh
    kept = pipe.chain.tiers[1].ticks
    assert (kept is None) if not profile else (len(kept[0]) == WARMUP and kept[3].any())
    break_tflite(pipe.chain.tiers[0])
    tiers = []
    for r in ticks:
        tiers.append(pipe.step(r).tier)
        if pipe.chain.loading is not None:
            pipe.chain.loading.join(timeout=240)
        if len(tiers) == 3:
            break
    assert tiers == ["numpy", "onnx", "onnx"]


def run_agent(tmp_path, code: str, *args: str, blocked: str = "") -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter on the demo chain's config (its argv: `args`, then -c the config), with the
    modules `blocked` made unimportable and unfindable first (sys.modules[name] = None)."""
    cfg = demo_dict(tmp_path, chain=CHAIN, bundle="builtin:demo-corridor", shadow_ticks=5)
    cfg["sources"][0].update(speed=0, fast_forward_s=0, anomalies=[], duration_s=3600 * 4)
    cfg["warmup"]["ticks"] = 60
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(cfg))
    code = (f"import sys; sys.modules[{blocked!r}] = None\n" if blocked else "") + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", code, *args, "-c", str(tmp_path / "agent.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=agent_env())


def test_a_hot_swap_imports_no_runtime_the_start_did_not(tmp_path):
    """`stad-agent run` on the demo chain, a reload asked for (SIGHUP's path) at the first scored tick, as
    bench/rss.py's row "after a hot swap" runs it: swapped in, and onnxruntime never imported (main: the
    candidate's onnx tier was loaded, ~28 MiB)."""
    res = run_agent(tmp_path, bench_module("rss").SWAP_CHILD, "run", "--max-ticks", "160")
    assert res.returncode == 0, res.stderr[-2000:]
    (said,) = [ln for ln in res.stderr.splitlines() if ln.startswith("swapped ")]
    assert said == "swapped 1 onnxruntime False", res.stderr[-2000:]


def test_a_standby_whose_runtime_is_missing_is_said_at_start_and_by_check_config(tmp_path):
    """onnxruntime made unfindable (sys.modules[name] = None: find_spec answers None, an import raises): `run`
    leaves the onnx tier out at start with the line a loaded tier that cannot import gets, and check-config notes
    it (found on the import path: `run` must not import a standby's runtime to find out)."""
    res = run_agent(tmp_path, """
        import sys
        from agent.cli import main
        sys.exit(main(sys.argv[1:]))
    """, "check-config", blocked="onnxruntime")
    assert res.returncode == 0, res.stderr[-2000:]
    (note,) = [ln for ln in res.stderr.splitlines() if "note: scoring.chain:" in ln]
    assert "onnx tier's runtime is not installed" in note and "stad-edge[onnx]" in note, note
    res = run_agent(tmp_path, """
        import sys
        from agent.cli import main
        from agent.service import Agent
        built = []
        init = Agent.__init__
        def keep(self, *a, **k):
            init(self, *a, **k)
            built.append(self)
        Agent.__init__ = keep
        rc = main(sys.argv[1:])
        print(rc, [t.TYPE for t in built[0].pipeline.chain.tiers])
    """, "run", "--max-ticks", "70", blocked="onnxruntime")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("['tflite', 'numpy']"), res.stdout[-500:]
    (line,) = [ln for ln in res.stderr.splitlines() if "scorer onnx" in ln]
    assert "scorer onnx not available: onnxruntime is not installed" in line and "'onnx' extra" in line, line
