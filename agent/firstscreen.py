"""What an operator sees when the agent starts: a banner, then warm-up progress.

The banner says, once, what runs: the node, each source and whose clock it follows (a simulator's
clock is said to be simulated, with its speed and fast-forward), the scoring tier and bundle, each
sink and where it writes, and the broker being connected to. Warm-up can take hours of data
(roadside: 4 h at 30 s ticks), so its progress is shown: on a terminal as one rewritten line
(ticks done / needed, the time left at the source's speed); under systemd, where every line is
kept in the journal, as one log line per 10 %.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from .alerts import iso
from .build_id import build
from .live_pace import DEFAULT_MAX_CLOCK_SKEW_S
from .records import span

log = logging.getLogger("stad.agent")

REDRAW_S = 0.5          # a terminal line is rewritten at most this often


def source_line(src, max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S) -> str:
    """The source and whose clock its records follow. A live source's reading carries its own `ts` or is
    stamped on arrival, and the agent cannot tell which before it comes: both are said, with how far a
    stamp may be from this host's clock (`window.max_clock_skew_s`). The banner said "this host's clock"
    for an MQTT source whose payloads carried stamps years off it (user12)."""
    kind = src.TYPE
    if kind == "simulate":
        pace = f"{src.speed:g}× real time" if src.speed > 0 else "as fast as it computes"
        ff = f", the first {span(src.fast_forward_s)} fast-forwarded" if src.speed > 0 and src.fast_forward_s else ""
        length = span(src.duration_s) if src.duration_s else "endless"
        return f"simulate {src.scenario} (seed {src.seed}, {length}): simulated clock from {src.start}, {pace}{ff}"
    if kind == "replay":
        pace = f"{src.speed:g}× the file's pace" if src.speed > 0 else "as fast as it reads"
        return f"replay {src.path}: the file's clock, {pace}"
    skew = (f"a stamp more than {max_clock_skew_s:g} s from this host's clock is refused (window.max_clock_skew_s)"
            if max_clock_skew_s > 0 else "stamps not checked against this host's clock (window.max_clock_skew_s: 0)")
    own = f"each reading's own `ts`, else this host's clock on arrival; {skew}"
    if kind == "udp":
        return f"udp {src.bind}:{src.port} (JSON lines): {own}"
    if kind == "stdin":
        return f"stdin (JSON lines): {own}"
    if kind == "mqtt":
        return f"mqtt {src.broker.host}:{src.broker.port}, {len(src.topics)} topic filter(s): {own}"
    if kind == "opcua":
        return f"opcua {src.url}: the server's source timestamps, else this host's clock; {skew}"
    if kind == "modbus":
        return f"modbus {src.host}:{src.port}: this host's clock (each poll)"
    return f"{kind}: this host's clock"


def sink_line(sink) -> str:
    kind = sink.TYPE
    if kind == "jsonl":
        return f"jsonl → {sink.path}"
    if kind == "mqtt":
        b = sink.cfg.broker
        topics = (sink.alerts_topic, sink.faults_topic, sink.status_topic, sink.health_topic)   # the ones it publishes
        return (f"mqtt → {b.host}:{b.port} under {sink.alerts_topic.rsplit('/', 1)[0]}/ "
                f"({', '.join(t.rsplit('/', 1)[1] for t in topics)}); until the broker answers, alerts wait in "
                f"{sink.outbox.path}")
    if kind == "terminal":
        return "terminal → stdout"
    return kind


def models_dir_line(path: Path, untaken: list[str] | None = None) -> str:
    """Where a new bundle is taken from (`scoring.models_dir`, resolved). A bundle delivered anywhere else is
    never seen, and check-config passes a models_dir that does not exist (the first delivery may make it): a
    typo, or a fresh gateway's /var/lib/stad-edge/models, stayed numpy for good without a word (review20).

    `untaken`: the bundles a first start found there and took as decided, not loaded (agent/hotswap.py: they were
    there before it). user35 installed a bundle into models_dir before the first start, as a delivery, and the
    agent scored numpy with nothing said: the banner promised a delivery is swapped in."""
    line = (f"a bundle delivered into {path} is shadow-scored, then swapped in"
            + ("" if path.is_dir() else "; that directory does not exist (yet)"))
    if untaken:
        line += (f"; {', '.join(untaken)} already there at this first start "
                 f"{'is' if len(untaken) == 1 else 'are'} not taken (only a bundle delivered from now on is): "
                 "SIGHUP (systemctl reload stad-agent) asks for the newest, or name it in scoring.bundle")
    return line


def profile_line(scoring, fit: str | None = None, threshold: float | None = None) -> str:
    """How the model tier judges (the skab32 defaults beside a bundle), with the sensors it judges `drifting`:
    by default those whose `unit` is a temperature, so a unit the agent does not read as one (user12: "degrees
    Celsius" before it was known) shows here as a sensor missing from the list, not only in the alerts.

    `fit`: how a warm-up done before the banner (a recorded one) fitted the tier (TierFitter.last_fit), and
    `threshold` the one it then scores with. The line was the config's alone: it said the tier scores the distance
    from the warm-up's normal when no profile had been fitted (a sensor read on too few ticks: the bundle's own
    threshold) or when it was fitted on the bundle's own training rows only (calib1's in-sample case; user32)."""
    drifting = ", ".join(scoring.profile.drifting) or "none"
    thr = f" {threshold:.3f}" if threshold is not None else ""
    if fit is not None and fit.startswith("none"):
        said = f"none fitted at the warm-up ({fit[6:]})" if fit.startswith("none: ") else fit
        return (f"profile: {said}: the model tier scores its forecast error alone "
                f"against its bundle's own threshold{thr}, no distance from a normal; the fallback blended at "
                f"{scoring.blend_numpy:g}")
    sample = (f" — fitted in-sample, on its bundle's own training rows alone: threshold{thr} likely low (false "
              "alerts); a SIGHUP once live ticks have come fits it again on them" if fit == "in-sample" else "")
    return (f"profile: the model tier scores each sensor's distance from the warm-up's normal too{sample}, the "
            f"fallback blended at {scoring.blend_numpy:g}; drifting (judged by its newest forecast error alone, "
            f"scoring.profile.drifting): {drifting}")


def profile_fit(agent, recorded: str | None) -> str | None:
    """What the banner's profile line says of the running tier's profile (`profile_line`'s `fit`): the fit of a
    warm-up done before it (a recorded one); a resumed tier's, as restored (`none (…)`: the restore's own line above
    says why and when it is fitted); none when the warm-up ahead (a checkpoint taken during it: the rest of it) is
    shorter than a profile is fitted on (at `warmup.counts: ticks`). user40: with `warmup.ticks: 80` every start
    said the tier scores the distance from the warm-up's normal, then that it had none. None: the config's line."""
    pipe = agent.pipeline
    tier = pipe.chain.current
    if pipe.warm and getattr(agent, "resumed", None) is not None:
        profile = getattr(tier, "profile", None)
        return None if profile is None or profile.fitted else "none (restored without one, said above)"
    if pipe.warm:
        return pipe.fitter.last_fit.get(pipe.chain.tier)
    ahead = pipe.warmup_ticks if agent.cfg.warmup.counts == "ticks" and not recorded else None
    few = pipe.fitter.too_few(ahead, "warm-up ticks") if ahead is not None and hasattr(tier, "fit_profile") else None
    return None if few is None else f"none: {few}"


def bundle_origin(configured: str | None, base_dir: str, running: Path) -> str:
    """Where the bundle the tiers run came from: the config's `scoring.bundle` (`configured`, `builtin:NAME`
    as written), or the models_dir bundle a hot swap made active before the last stop. The banner named the
    configured bundle beside a swapped-in model's id (user10: `pump3 (…) from …/bundles/pump2`)."""
    from .bundle import resolve_path
    if configured and running.resolve() == resolve_path(configured, base_dir).resolve():
        return configured if configured.startswith("builtin:") else str(resolve_path(configured, base_dir))
    return str(running)


def banner(agent) -> list[str]:
    """The start's lines; the first ends with the build that runs (agent/build_id.py: after an install without a
    restart, `--version` names the installed build, the journal this one; user39)."""
    cfg, pipe = agent.cfg, agent.pipeline
    model = pipe.chain.current.describe()
    tier = pipe.chain.tier
    scoring = (f"tier {tier}: {model.get('model_id')} ({model.get('artifact')}, {model.get('runtime')}) "
               f"from {bundle_origin(cfg.scoring.bundle, cfg.base_dir, Path(pipe.bundle_identity()['path']))}"
               if tier != "numpy" else "tier numpy (AR / Markov / fusion fallback)")
    lines = [f"stad-agent {cfg.node.id} at {cfg.node.site}: {len(pipe.sensors)} sensors, tick {cfg.tick_s:g} s, "
             f"window {cfg.window.steps} ticks; chain {' → '.join(cfg.scoring.chain)}; build {build()}",
             f"  scoring: {scoring}",
             f"  warm-up: {pipe.warmup_ticks} {cfg.warmup.counts} ({span(pipe.warmup_ticks * cfg.tick_s)} of data) "
             "before the first score"]
    resumed = getattr(agent, "resumed", None)                   # agent/checkpoint.py
    recorded = cfg.warmup.replay if resumed is None else None   # warmup.replay, read before the banner
    if pipe.warm:
        lines[2] = (f"  warm-up: none, resumed from checkpoint ({resumed})" if resumed is not None else
                    f"  warm-up: done on the recording {recorded}; the first {cfg.window.steps} live ticks "
                    "refill the window before the first score")
    elif recorded:
        lines[2] += f" ({pipe.warmup_counted} of them from the recording {recorded})"
    if cfg.scoring.bundle and cfg.scoring.profile.enabled:
        fit = profile_fit(agent, recorded)
        threshold = pipe.detector.threshold(tier) if fit is not None else None
        lines.append(f"  {profile_line(cfg.scoring, fit, threshold)}")
    if cfg.scoring.models_dir:
        untaken = sorted(d.name for d in agent.hotswap.seen if d != agent.hotswap.current) if agent.first_start else []
        lines.append(f"  model updates: {models_dir_line(cfg.resolve(cfg.scoring.models_dir), untaken)}")
    lines += [f"  source: {source_line(s.cfg, cfg.window.max_clock_skew_s)}" for s in agent.sources]
    lines += [f"  sink: {sink_line(s)}" for s in agent.sinks] or ["  sink: none (alerts are counted only)"]
    return lines


class WarmupProgress(logging.Filter):
    """Reports warm-up ticks done / needed; `update(done)` after every warm-up tick.

    On a terminal the line stays drawn, unfinished, between ticks. Anything else written meanwhile
    — a log record, a fault event on stdout — would be glued to its end, so the line is erased
    first: by `clear()`, which the agent calls before it emits events, and, as a filter on the
    root logger's handlers, before every log record."""

    def __init__(self, needed: int, tick_s: float, source, terminal: bool | None = None):
        super().__init__()
        self.needed, self.tick_s = needed, tick_s
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.speed = getattr(source, "speed", 1.0) if source is not None else 1.0
        self.unpaced_s = getattr(source, "fast_forward_s", 0.0) if source is not None else 0.0
        self.simulated = getattr(source, "TYPE", "") == "simulate"
        self.next_tenth = 1
        self.last_draw = 0.0
        self.shown = False                  # an unfinished line is on the terminal
        if self.terminal:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self)

    def clear(self) -> None:
        """Erase the unfinished progress line, so the next output starts a line of its own."""
        if self.shown:
            self.shown = False
            self.last_draw = 0.0            # redrawn at the next tick
            print("\r\033[K", end="", file=sys.stderr, flush=True)

    def filter(self, record: logging.LogRecord) -> bool:
        self.clear()
        return True

    def left(self, done: int) -> str:
        """Wall-clock time left at the source's speed."""
        if done >= self.needed:
            return "done"
        if not self.speed:
            return "as fast as the input comes"
        data_s = self.needed * self.tick_s - max(self.unpaced_s, done * self.tick_s)
        if data_s <= 0:
            return "fast-forwarded, no wait"
        return f"about {span(data_s / self.speed)} left at {self.speed:g}×"

    def line(self, done: int, ts: float) -> str:
        clock = " simulated" if self.simulated else ""
        return (f"warm-up {done}/{self.needed} ticks ({100 * done // self.needed} %), data time {iso(ts)}{clock}; "
                f"{self.left(done)}")

    def update(self, done: int, ts: float) -> None:
        if self.terminal:
            now = time.monotonic()
            if done >= self.needed or now - self.last_draw >= REDRAW_S:
                self.last_draw = now
                end = "\n" if done >= self.needed else ""
                print(f"\r{self.line(done, ts)}\033[K", end=end, file=sys.stderr, flush=True)
                self.shown = not end
            return
        reached = self.next_tenth
        while self.next_tenth <= 10 and done * 10 >= self.needed * self.next_tenth:
            self.next_tenth += 1
        # One line for the tenths this tick reached (a recorded warm-up can pass several at once);
        # 100 % is the "warm-up done" line itself.
        if reached < self.next_tenth and done < self.needed:
            log.info("%s", self.line(done, ts))


__all__ = ["banner", "WarmupProgress", "source_line", "sink_line"]
