"""chaos11's invariants of the soak (bench/chaos_check.py), on event lists and logs of the shapes the agent writes:
an alert id raised once, one incident at a time (an alert open at a restart goes on under its id), a bundle of another
plant refused by its shadow, a SIGHUP on a config error answered. Each is shown breaking on what would break it, and
holding on what the agent does."""
from __future__ import annotations

from types import SimpleNamespace

from conftest import bench_module

check = bench_module("chaos_check")


def ev(alert_id: str, seq: int, event: str) -> dict:
    return {"alert_id": alert_id, "seq": seq, "event": event, "start": "2026-12-07T20:00:00Z"}


def test_an_alert_raised_twice_under_one_id_is_caught_in_the_jsonl_and_over_mqtt():
    kept = [ev("a1", 0, "new"), ev("a1", 1, "update"), ev("a1", 2, "end")]
    # the same event redelivered (QoS 1, or `replayed` from the outbox after a restart) is one event
    assert check.one_new_each(kept, kept + [dict(ev("a1", 0, "new"), replayed=True)]) == []
    again = [ev("a1", 0, "new"), ev("a1", 1, "new"), ev("a1", 2, "end")]
    assert check.one_new_each(again, kept) == ["a1: 2 `new` lines in the jsonl"]
    assert check.one_new_each(kept, again) == ["a1: `new` at seqs [0, 1] over mqtt"]


def test_a_restart_that_opens_another_alert_beside_the_open_one_is_caught():
    # a1 open at a kill -9, continued by the next start under its id (update, end), then a2: held
    continued = [ev("a1", 0, "new"), ev("a1", 1, "update"), ev("a1", 2, "end"), ev("a2", 0, "new")]
    assert check.one_at_a_time(continued) == []
    # the next start raised a2 while a1 had no end (a1 ended only later): the incident paged twice
    twice = [ev("a1", 0, "new"), ev("a2", 0, "new"), ev("a1", 1, "end"), ev("a2", 1, "end")]
    assert check.one_at_a_time(twice) == ["a2 new at 2026-12-07T20:00:00Z while a1 had no end"]


def test_an_off_scale_bundle_swapped_in_or_refused_for_another_reason_is_caught():
    path = "/x/models/offscale-003"
    drop = [{"name": "offscale-003", "path": path, "corrupt": check.OFF_SCALE}]
    refused = (f"2026-12-07 20:40:01,000 WARNING stad.agent: model update (new bundle) rejected: {path}: 18 of 18 "
               "sensors' readings not on its scale (S01_flow, …); still scoring with tflite (chaos-start)")
    swapped = (f"2026-12-07 20:40:01,000 WARNING stad.agent: scorer tier tflite -> tflite: model update (new bundle): "
               f"offscale-003 from {path} swapped in, scoring from this tick")
    assert check.off_scale_refused([(None, [refused])], drop) == []
    assert check.off_scale_refused([(None, [refused, swapped])], drop) == [f"offscale-003: {[swapped[24:300]]}"]


def test_a_sighup_on_a_config_error_left_unanswered_is_caught(tmp_path):
    err = tmp_path / "agent-000.stderr"
    life = SimpleNamespace(n=0, err=err)
    agent = SimpleNamespace(lives=[life])
    done = [{"do": "sighup_bad_edit", "life": 0, "alive": True, "mistake": "not yaml"},
            {"do": "sighup_bad_edit", "life": 0, "alive": False, "mistake": "key twice"}]     # (killed meanwhile)
    err.write_text("… ERROR stad.agent: SIGHUP: /w/agent.yaml changed since this agent started and a restart would "
                   "refuse it — 1 problem(s): line 63, column 1: not valid YAML …\n")
    assert check.sighup_refusals(agent, done) == []
    err.write_text("… WARNING stad.agent: SIGHUP: /w/agent.yaml changed since this agent started; it is not applied\n")
    assert check.sighup_refusals(agent, done) == ["life 0: 1 SIGHUPs on a config error (['not yaml', 'key twice']), "
                                                  "0 answered"]
