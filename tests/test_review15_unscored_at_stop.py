"""What a stop leaves unscored of the records the sources had queued is said once, with why.

e76d113 said every such record as 'queued after the stop began were not scored' in a WARNING — wrong
for --max-ticks (queued before the stop, left by the user's request: INFO) and for an error (queued
before it, lost: WARNING saying so). A clean stop by signal scores what was queued, up to --max-ticks
(it scored past it when the signal came a few records before). A real Agent on the real intake queue,
filled before its loop runs as an unpaced source fills it; its UDP source sends nothing.
"""
from __future__ import annotations

import logging
import threading

import yaml

from agent import config
from agent.records import Record
from agent.service import Agent
from agent.stop_summary import format_summary

PUMP_UDP = """
tick_s: 1
topology: group
sensors: [a, b, c]
sources: [{type: udp, bind: 127.0.0.1, port: 0}]
warmup: {ticks: 40}
window: {steps: 8, idle_flush_s: 0}
scoring: {chain: [numpy]}
sinks: [{type: jsonl, path: alerts.jsonl}]
state_dir: state
"""
T0 = 1772409600.0
UNSCORED = "were not scored"


def queued_agent(tmp_path, n: int, max_ticks: int | None = None, after: list | None = None) -> Agent:
    """An agent whose intake queue holds `n` records, one a tick, then the items `after`."""
    agent = Agent(config.from_dict(yaml.safe_load(PUMP_UDP), base_dir=str(tmp_path)), max_ticks=max_ticks)
    for i in range(n):
        assert agent.queue.put(Record(ts=T0 + i, values={"a": 1.0 + i % 3, "b": 2.0, "c": float(i % 2)},
                                      origin=f"test:{i}"))
    for item in after or []:
        agent.queue.put_marker(item)
    return agent


def run_in_thread(agent: Agent) -> list:
    """agent.run() in a thread of its own (no SIGHUP handler installed): [summary] or [exception]."""
    out: list = []

    def run():
        try:
            out.append(agent.run())
        except Exception as exc:  # noqa: BLE001 — the test looks at it
            out.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(120)
    assert not runner.is_alive() and out
    return out


def unscored_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if UNSCORED in r.getMessage()]


def test_max_ticks_leaves_the_rest_of_the_queue_said_as_its_request(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad.agent")
    agent = queued_agent(tmp_path, 50, max_ticks=10)
    [summary] = run_in_thread(agent)
    assert summary["ticks"] == 10 and summary["exit_reason"] == "reached --max-ticks 10"
    dropped = summary["intake"]["dropped_at_stop"]
    assert dropped == 50 - summary["records_in"] > 0
    [line] = unscored_lines(caplog)
    assert line.levelno == logging.INFO
    assert line.getMessage() == (f"{dropped} record(s) the sources had queued beyond --max-ticks 10 were not scored "
                                 "(intake dropped_at_stop)")
    assert f"; records read but not scored at the stop: {dropped}; stopped: reached --max-ticks 10" in \
        format_summary(summary)


def test_an_error_stop_says_the_queued_records_it_lost(tmp_path, caplog):
    """An item the loop cannot take (here a bare object; in life a defect) stops it with the exception;
    the records queued behind it are lost, and said so."""
    caplog.set_level(logging.INFO, logger="stad.agent")
    agent = queued_agent(tmp_path, 5, after=[object()])
    for i in range(7):
        agent.queue.put(Record(ts=T0 + 5 + i, values={"a": 1.0, "b": 2.0, "c": 0.0}, origin="test"))
    [exc] = run_in_thread(agent)
    assert isinstance(exc, Exception), exc          # (the loop took a non-record: AttributeError today)
    assert agent.queue.stats()["dropped_at_stop"] == 7
    [line] = unscored_lines(caplog)
    assert line.levelno == logging.WARNING
    assert line.getMessage() == ("7 record(s) the sources had queued were not scored: the agent stopped on an "
                                 "error (intake dropped_at_stop)")


def test_a_signal_stop_scores_every_queued_record_and_says_none_unscored(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stad.agent")
    agent = queued_agent(tmp_path, 50)
    agent.stop("signal SIGTERM")                          # before the loop's first turn: all 50 queued
    [summary] = run_in_thread(agent)
    assert summary["records_in"] == 50 and summary["ticks"] == 50       # the open ticks flushed too
    assert summary["intake"]["dropped_at_stop"] == 0 and not unscored_lines(caplog)
    assert "not scored at the stop" not in format_summary(summary)


def test_a_signal_a_few_records_before_max_ticks_scores_no_more_than_it_asked(tmp_path, caplog):
    """The stop's drain scored every queued record: 48 ticks for --max-ticks 10 (fails on e76d113)."""
    caplog.set_level(logging.INFO, logger="stad.agent")
    agent = queued_agent(tmp_path, 50, max_ticks=10)
    agent.stop("signal SIGTERM")
    [summary] = run_in_thread(agent)
    assert summary["ticks"] == 10
    dropped = summary["intake"]["dropped_at_stop"]
    assert dropped == 50 - summary["records_in"] > 0
    [line] = unscored_lines(caplog)
    assert line.levelno == logging.INFO and f"{dropped} record(s)" in line.getMessage()
    assert "beyond --max-ticks 10" in line.getMessage()
