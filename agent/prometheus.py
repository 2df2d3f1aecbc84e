"""Prometheus metrics over HTTP, opt in: `metrics: {listen: "127.0.0.1:9108"}`.

Why an extra (`prometheus`) and not the base install: most gateways report through MQTT health
and have no Prometheus scraping them; prometheus-client is small and pure Python, but an
endpoint nobody scrapes is an open port and an import for nothing. It is imported only when
`metrics` is configured (the agent's start-up RSS does not grow for everyone else), and
`check-config` says when the extra is missing.

Values are read when Prometheus scrapes, from the agent's own counters (no second set of
books to drift): ticks, records in, rejects by reason, alert events by type, open alerts, tier
and tier switches, score and threshold of the last tick; sensor states and each sink's drops,
outbox depth/oldest age and broker connection from the agent's latest health snapshot (taken
every few seconds on the agent's thread, so the scrape never touches SQLite or the sinks). The
tick latency histogram is the one value recorded on the tick path (one observe per tick).
Every label takes values from a fixed set in the code (reasons, event types, tier names, sink
types, sensor states), never from input: the series count is bounded.
"""
from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .build_id import identity
from .records import REJECT_REASONS
from .scoring_state import STATES, scoring_now
from .timebase import TIME_BASE_MOVES
from .typed import doc

if TYPE_CHECKING:
    from .service import Agent

log = logging.getLogger("stad.metrics")

#: the alert event types, served from 0: a series that appears at 1 has its first increment lost
#: to increase() and rate() (Prometheus sees no earlier sample to count from)
ALERT_EVENTS = ("new", "update", "end")
#: tick latency buckets, seconds: from a fast numpy tick (~0.2 ms) to past a 50 ms latency budget
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass
class MetricsConfig:
    listen: str = doc("`host:port` of the HTTP endpoint (`/metrics`); host an IPv4 address or localhost",
                      default="127.0.0.1:9108")

    def address(self) -> tuple[str, int]:
        """The IPv4 address and port served, one for check-config's probe and `run`'s bind: `localhost` is 127.0.0.1
        (prometheus_client binds the first address getaddrinfo gives, ::1 on a host whose /etc/hosts lists
        `::1 localhost` first, where check-config had probed IPv4 and a scrape of 127.0.0.1 finds nothing)."""
        host, _, port = self.listen.rpartition(":")
        return ("127.0.0.1" if host == "localhost" else host), int(port)

    def validate(self) -> list[tuple[str, str]]:
        if not isinstance(self.listen, str):
            return []
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            return [("listen", f"expected host:port with a port 1..65535, got {self.listen!r}")]
        import ipaddress    # only when `metrics:` is configured
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if host != "localhost":
                return [("listen", f"host must be an IPv4 address (or localhost), got {host!r}")]
        return []

    def preflight(self, resolve) -> list[tuple[str, str]]:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            return [("", "needs prometheus-client: install the extra (pip install 'stad-edge[prometheus]')")]
        from .host_checks import bind_problems
        host, port = self.address()
        return [("listen", msg) for _, msg in bind_problems(host, port, tcp=True)]


class MetricsServer:
    """The /metrics endpoint for one running agent; `observe_tick` is called by the agent per tick."""

    def __init__(self, cfg: MetricsConfig, agent: Agent):
        from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, start_http_server
        self.agent = agent
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)       # process_resident_memory_bytes, process_cpu_seconds_total
        self.tick_seconds = Histogram("stad_tick_duration_seconds",
                                      "Time to score and judge one tick, by the tier that scored it",
                                      ["tier"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.last_score = math.nan
        self.last_threshold = math.nan
        self.registry.register(_AgentCollector(agent, self))
        host, port = cfg.address()
        try:
            self.server, self.thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise OSError(exc.errno, f"metrics.listen: cannot serve on {cfg.listen}: {exc.strerror}") from None
        log.info("Prometheus metrics on http://%s:%d/metrics", host, self.server.server_port)

    @property
    def port(self) -> int:
        return self.server.server_port

    def observe_tick(self, result, seconds: float) -> None:
        if result.warming:
            return
        self.tick_seconds.labels(result.tier).observe(seconds)
        self.last_score, self.last_threshold = result.score, result.threshold

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _AgentCollector:
    """Reads the agent's counters when scraped."""

    def __init__(self, agent: Agent, endpoint: MetricsServer):
        self.agent = agent
        # the last scored tick, from the endpoint itself: a scrape can come while the agent's constructor
        # is still assigning `agent.metrics` (the server serves from its start), which raised in collect
        self.endpoint = endpoint
        # each sink's drop reasons, served from 0 (the sinks are opened before the endpoint, for good)
        self.drop_reasons = {key: s.DROP_REASONS for key, s in zip(agent.sink_keys, agent.sinks)}

    def describe(self):
        return []       # the families depend on the sinks and tiers; nothing to check at registration

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        a = self.agent
        p = a.pipeline

        def counter(name, doc, value, labels=None, samples=()):
            fam = CounterMetricFamily(name, doc, value=None if labels else value, labels=labels)
            for label_values, v in samples:
                fam.add_metric(label_values, v)
            return fam

        def gauge(name, doc, value=None, labels=None, samples=()):
            fam = GaugeMetricFamily(name, doc, value=None if labels else value, labels=labels)
            for label_values, v in samples:
                fam.add_metric(label_values, v)
            return fam

        # A dict merged into a dict is one C call under the GIL: a consistent copy while the agent counts on.
        rejects = {**dict.fromkeys(REJECT_REASONS, 0), **a.rejects.counts}
        events = {**dict.fromkeys(ALERT_EVENTS, 0), **a.events}
        # (not "warm-up included": the ticks warmup.replay reads from a recording are not; user23)
        yield counter("stad_ticks", "Ticks processed from the sources (a warm-up on live data included; the recorded "
                      "ticks of warmup.replay not)", p.ticks)
        yield counter("stad_records", "Records received from the sources", a.records_in)
        yield counter("stad_records_rejected", "Records rejected, by reason (a record once under each reason its readings met)", None, ["reason"],
                      [([r], n) for r, n in sorted(rejects.items())])
        yield counter("stad_alert_events", "Alert events emitted, by event type", None, ["event"],
                      [([e], n) for e, n in sorted(events.items())])
        moves = {**dict.fromkeys(TIME_BASE_MOVES, 0), **a.aligner.moves}
        yield counter("stad_time_base_moves", "Moves of the time base, by kind: the data stepped back, jumped "
                      "ahead, or a restart on a checkpoint ahead of the host's clock", None, ["kind"],
                      [([k], n) for k, n in sorted(moves.items())])
        yield counter("stad_restart_gaps", "Restarts whose downtime (the checkpoint's last tick to the first live "
                      "data) was skipped, not taken for a move of the time base", a.aligner.restart_gaps)
        gap = a.aligner.last_restart_gap or {}
        yield gauge("stad_restart_gap_skipped_seconds", "The last restart gap: seconds of ticks not run (the "
                    "downtime and, after a kill -9, the ticks run after the last checkpoint); NaN: none this life",
                    _seconds(gap.get("skipped_s")))
        yield gauge("stad_restart_down_seconds", "The last restart gap: seconds the agent was down (from the last "
                    "run's last sign of life to this start, at most 5 s too long); NaN: none this life, or no sign "
                    "of life known", _seconds(gap.get("down_s")))
        yield counter("stad_state_write_failures", "Failed writes of the agent's state files (checkpoint, alert "
                      "and fault journals), by file", None, ["file"],
                      [([k], n) for k, n in sorted(a.state_writes.failed.items())])
        yield counter("stad_state_read_failures", "State files refused at start (cut short, corrupt, "
                      "unreadable; active_bundle also missing beside a checkpoint), by file: active_bundle, feedback", None, ["file"],
                      [([k], int(why is not None)) for k, why in sorted(a.state_reads.items())])
        yield gauge("stad_alerts_open", "Alerts open now (0 or 1)", 1.0 if p.alerts.active else 0.0)
        # (not "and ticks are scored": the window's refill after warmup.replay is warm and unscored; user16, user17)
        yield gauge("stad_warm", "1 once the warm-up is done, also while the window refills and no tick is scored "
                    "(stad_scoring_state says what scores now)", 1.0 if p.warm else 0.0)
        now = scoring_now(p)        # (health's `scoring`: the same reading)
        yield gauge("stad_scoring_tier", "1 for the tier that scores now, 0 for the other tiers of the chain (all 0 "
                    "while none scores: warming up, the window refilling)", None, ["tier"],
                    [([t.TYPE], 1.0 if t.TYPE == now["tier"] else 0.0) for t in p.chain.tiers])
        yield gauge("stad_scoring_state", "1 for what scoring does now: warming (the warm-up), refilling (the window "
                    "refills, unscored), fallback_planned (numpy scores while the model tier waits to be prepared "
                    "after a restart: planned, not a fault), scoring (the active tier scores)", None, ["state"],
                    [([s], 1.0 if s == now["state"] else 0.0) for s in STATES])
        yield counter("stad_scoring_tier_switches", "Switches between scoring tiers", p.chain.switch_count)
        yield gauge("stad_score", "Anomaly score of the last scored tick", self.endpoint.last_score)
        yield gauge("stad_threshold", "Threshold the last scored tick was judged against", self.endpoint.last_threshold)
        states = Counter(kind or "ok" for kind in list(p.health.kind))   # '' = no fault; else the fault kind
        states.setdefault("ok", 0)
        yield gauge("stad_sensors", "Sensors by state: ok, or the kind of fault they have", None, ["state"],
                    [([name], float(n)) for name, n in sorted(states.items())])
        sources = p.health.sources.snapshot()
        yield gauge("stad_source_down", "1 while a source (a device, server, broker or feed) is down: one fault of kind "
                    "source for the sensors it carries", None, ["source"],
                    [([name], 1.0 if st["down"] else 0.0) for name, st in sorted(sources.items())])
        fb = p.detector.feedback
        if fb is not None:
            # every (outcome, verdict) served from 0, as the alert and reject counters are: a series born at 1 with
            # the first message is never counted by increase() (user23); a refused message that is no verdict is
            # `invalid` (agent/service.py), so the labels stay this fixed set
            from .feedback import VERDICTS
            counts = {**{(o, v): 0 for o in ("accepted", "refused") for v in VERDICTS}, ("refused", "invalid"): 0,
                      **a.feedback_counts}
            yield counter("stad_feedback_messages", "Operator feedback messages, by outcome and verdict", None,
                          ["outcome", "verdict"], [(list(k), n) for k, n in sorted(counts.items())])
            yield gauge("stad_threshold_feedback_lift", "Fraction the threshold is lifted by false_alarm feedback",
                        fb.lift(fb.now))
        yield from _sink_families(a.last_health.get("sinks", {}), self.drop_reasons, counter, gauge)
        yield gauge("stad_uptime_seconds", "Seconds since the agent started", time.monotonic() - a.started)
        built = {**identity(), "checkpoint_build": a.checkpoint_build or ""}
        yield gauge("stad_build_info", "1, labelled with the agent's version and build and the build that wrote the "
                    "checkpoint this life resumed ('' none, 'unrecorded' a release before builds were recorded)",
                    None, ["version", "build", "checkpoint_build"],
                    [([built["version"], built["build"], built["checkpoint_build"]], 1)])


def _seconds(value: float | None) -> float:
    """A health figure in seconds for a gauge: NaN when there is none (Prometheus's "no value" for a gauge)."""
    return math.nan if value is None else float(value)


def _sink_families(sinks: dict, reasons: dict, counter, gauge):
    """Drops of every sink (each of its `reasons` from 0), and for a sink with an outbox (mqtt) its depth,
    oldest age and broker state."""
    dropped = {sink: {**dict.fromkeys(reasons.get(sink, ()), 0), **(st.get("dropped") or {})}
               for sink, st in sinks.items()}
    yield counter("stad_sink_dropped_events", "Events a sink could not deliver and dropped, by sink and reason",
                  None, ["sink", "reason"],
                  [([sink, reason], n) for sink, counts in sorted(dropped.items())
                   for reason, n in sorted(counts.items())])
    with_outbox = sorted((sink, st) for sink, st in sinks.items() if "depth" in st)
    yield gauge("stad_outbox_events", "Alert events stored in the outbox, not yet acknowledged by the broker",
                None, ["sink"], [([sink], float(st["depth"])) for sink, st in with_outbox])
    yield gauge("stad_outbox_oldest_age_seconds", "Age of the oldest event in the outbox (0 when empty)",
                None, ["sink"], [([sink], float(st.get("oldest_age_s") or 0.0)) for sink, st in with_outbox])
    yield gauge("stad_outbox_held_events", "Events held in memory because the outbox cannot store them now (a full "
                "disk): sent from memory meanwhile, stored when it works again", None, ["sink"],
                [([sink], float(st.get("held", 0))) for sink, st in with_outbox])
    yield counter("stad_broker_outages", "Times an established broker connection was lost", None, ["sink"],
                  [([sink], st["outages"]) for sink, st in sorted(sinks.items()) if "outages" in st])
    connected = sorted((sink, st["connected"]) for sink, st in sinks.items() if "connected" in st)
    yield gauge("stad_broker_connected", "1 while the sink is connected to its broker", None, ["sink"],
                [([sink], 1.0 if up else 0.0) for sink, up in connected])
    # One series per topic the broker refuses now (health's refused_topics): the topics are the sink's own
    # status/health/feedback result — config, never input — so the label stays bounded (at most 3 per sink).
    yield gauge("stad_broker_refused_topic", "1 while the broker refuses the sink's publishes on this topic (MQTT 5; "
                "status, health or feedback result: a refused status also loses the Last Will)", None,
                ["sink", "topic"], [([sink, topic], 1.0) for sink, st in sorted(sinks.items())
                                    for topic in sorted(st.get("refused_topics") or {})])


def start(cfg: MetricsConfig | None, agent: Agent) -> MetricsServer | None:
    """The endpoint when `metrics` is configured; None (nothing imported) when it is not."""
    return None if cfg is None else MetricsServer(cfg, agent)


__all__ = ["MetricsConfig", "MetricsServer", "start"]
