"""What bench/soak.py found growing over a months-long run, bounded (qa29, docs/operations.md "A gateway
left for months"): the hot swap's record of the bundles it has seen (kept every bundle ever delivered,
in memory and in active-bundle.json), and the corrupt outboxes moved aside (each kept for good)."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import DEMO_BUNDLE, HOTSWAP_WARMUP as WARMUP, NO_DEMO, corrupt_tail, demo_cfg, sim_rows, variant
from conftest import drive_hotswap as drive, hotswap_pipeline as setup

from agent.outbox import Outbox
from agent.outbox_salvage import CORRUPT_KEPT


@NO_DEMO
def test_bundles_removed_from_models_dir_are_forgotten_and_an_empty_listing_forgets_nothing(tmp_path):
    # Before: `seen` (and active-bundle.json's "seen") held every bundle ever delivered — 6 here, one more
    # per release for the gateway's life — though the delivery job keeps only the newest two.
    pytest.importorskip("ai_edge_litert")
    rows = sim_rows(demo_cfg(tmp_path / "rows"), days=0.3)
    pipe, swap, models = setup(tmp_path, bundle=DEMO_BUNDLE, shadow_ticks=3)
    at = len(drive(pipe, swap, rows, until=lambda: True)) + WARMUP
    for n in range(6):
        shutil.copytree(variant(f"qa29-{n}", src=DEMO_BUNDLE, model_id=f"qa29-{n}"), models / f"r{n}")
        if n >= 2:
            shutil.rmtree(models / f"r{n - 2}")         # the delivery job keeps the newest two
        judged = swap.accepted + swap.rejected
        at += len(drive(pipe, swap, rows[at:], until=lambda: swap.accepted + swap.rejected > judged))
        assert swap.accepted == n + 1, swap.status()
        assert set(swap.seen) <= {models / f"r{n - 1}", models / f"r{n}"}
    record = json.loads((tmp_path / "active-bundle.json").read_text())
    assert record["model_id"] == "qa29-5" and len(record["seen"]) <= 2, record
    # models_dir away for a while (an unmounted card): nothing forgotten, so nothing judged again after.
    aside = tmp_path / "models-away"
    models.rename(aside)
    assert swap._new_bundle() is None and set(swap.seen) == {models / "r4", models / "r5"}
    aside.rename(models)
    assert swap._new_bundle() is None


def test_only_the_newest_corrupt_outboxes_moved_aside_are_kept(tmp_path):
    # Before: every corrupt outbox moved aside stayed for good — on a failing card after each power cut.
    path = tmp_path / "o.sqlite"
    older = [f"2026010{d}T000000Z" for d in range(1, 6)]
    for stamp in older:
        for suffix in ("", "-wal"):
            (tmp_path / f"o.sqlite.corrupt-{stamp}{suffix}").write_bytes(b"x" * 4096)
    box = Outbox(path, max_events=1000, max_age_s=3600)
    for i in range(200):
        box.add(f"a{i}", 0, "new", json.dumps({"alert_id": f"a{i}", "pad": "p" * 300}))
    box.close()
    corrupt_tail(path, pages=2)
    box = Outbox(path, max_events=1000, max_age_s=3600)
    assert box.problem is None and box.depth > 0
    box.close()
    stamps = sorted({p.name.split(".corrupt-")[1].split("-")[0] for p in tmp_path.glob("o.sqlite.corrupt-*")})
    assert len(stamps) == CORRUPT_KEPT and stamps[:-1] == older[-(CORRUPT_KEPT - 1):]
    assert stamps[-1] > older[-1]       # the one moved aside now is kept
    assert not [p for p in tmp_path.glob("o.sqlite.corrupt-*") if p.name.split(".corrupt-")[1][:15] in older[:3]]
