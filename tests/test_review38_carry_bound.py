"""window.carry_forward_s had no upper bound (review38): the aligner counts it in ticks, and 1e306 s at a 1 ms tick
is past any number (floor of infinity): check-config said ok and `run` ended with OverflowError at every start —
a crash loop under systemd. Bounded now (1e9 s, 31 years); the bound itself makes an aligner."""
from __future__ import annotations

from pathlib import Path

import yaml

from agent import config
from agent.records import Rejects
from agent.window import Aligner
from config_mutants import check_config

BASE = {"node": {"id": "t"}, "tick_s": 0.001, "topology": "none", "sensors": ["a"],
        "sources": [{"type": "stdin"}], "warmup": {"ticks": 16}, "sinks": []}


def test_a_carry_past_the_bound_is_refused_at_its_key(tmp_path: Path):
    f = tmp_path / "agent.yaml"
    f.write_text(yaml.safe_dump({**BASE, "window": {"steps": 8, "carry_forward_s": 1e306}}))
    code, err = check_config(f)
    assert code == 2 and "window.carry_forward_s: must be <= 1000000000.0, got 1e+306" in err, err


def test_the_bound_makes_an_aligner(tmp_path: Path):
    cfg = config.from_dict({**BASE, "window": {"steps": 8, "carry_forward_s": 1e9}}, base_dir=str(tmp_path))
    assert Aligner.for_agent(cfg, Rejects()).carry_ticks == 10**12
