"""The README's dashboard picture, made from a real Prometheus scrape of a running agent.

    python bench/dashboard.py [--out docs/dashboard.png] [--seconds 540] [--warming 60] [--outage 130:190]
                              [--data DIR]

Grafana is not installed here, so this is not a Grafana screenshot: it is a rendering, with
matplotlib, of the queries of configs/grafana/stad-agent-dashboard.json (panel by panel, in the
dashboard's layout, with its legends and units) run against a real Prometheus server that scraped a
real agent. What runs, all on 127.0.0.1 free ports, in a temp dir:

- a Mosquitto broker (the agent's MQTT sink and outbox need one);
- `stad-agent run` with configs/demo.yaml (the corridor simulator at 60×, the builtin model) and
  `metrics: {listen: ...}`;
- `prometheus` (Debian's package: /usr/bin/prometheus) scraping the agent every 2 s.

The picture starts `--warming` seconds before the agent's first score, so the scoring panel shows what an
operator sees after an install or a restart: `warming` (the word health's `scoring.state` and
`stad_scoring_state` use), then the tier that scores. The demo warms up in its fast-forward (a day of data in a
second), too fast for a 2 s scrape to see, so its simulated clock is moved: the fast-forward ends `--warming`
seconds (×60 simulated) before the warm-up does, the warm-up's day and the anomalies moved with it so that the
first score comes at the data time the demo's paced part begins (06:00 on day 2) and the anomalies at their data
times. What differs from configs/demo.yaml: the warm-up's day is 06:00–06:00 rather than the calendar day, and the
six night hours the demo scores in its fast-forward are not run. Prometheus learns the agent's address (file_sd)
only once the fast-forward is over: that burst of ticks (thousands in a second) would dominate every rate() over
the short run. `--warming 0`: the picture starts at the first score with the demo's own clock (until 5 Dec 2026).

During the run the broker is stopped (SIGKILL) for the `--outage` span, seconds from the picture's
start, and started again, so the broker, outbox and drop panels show an outage and its recovery.
Then every panel's expressions are asked of Prometheus's HTTP API (/api/v1/query_range, with
`$instance` as `.*`, the dashboard's "All") and drawn. `--data DIR` also keeps the query answers.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import out_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "configs" / "grafana" / "stad-agent-dashboard.json"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SCRAPE_S = 2
INSTANCE = "demo-gw-01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:   # noqa: S310 — 127.0.0.1 only
        return resp.read()


def wait_for(what: str, check, deadline_s: float = 120.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"dashboard: {what} did not come up within {deadline_s:g} s")


# ---- the processes ------------------------------------------------------------------------------

def start_broker(work: Path, port: int) -> subprocess.Popen:
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    f"log_dest file {work / 'mosquitto.log'}\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("mosquitto", lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True)
    return proc


def warming_clock(data: dict, warming_s: float) -> int:
    """Move the demo's simulated clock (module docstring) so that its fast-forward ends `warming_s` live seconds
    before the warm-up does and the first score comes at the data time its paced part began; the number of ticks
    the fast-forward now runs (the agent is paced from then on)."""
    [source] = data["sources"]
    tick_s, speed = float(data["tick_s"]), float(source["speed"])
    warm_s = data["warmup"]["ticks"] * tick_s
    if warming_s:
        shift = float(source["fast_forward_s"]) - warm_s        # the demo's paced part starts this long after warm
        start = datetime.fromisoformat(source["start"].replace("Z", "+00:00")).timestamp() + shift
        source["start"] = datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        source["anomalies"] = [dict(a, at_s=a["at_s"] - shift) for a in source["anomalies"]]
        source["fast_forward_s"] = warm_s - warming_s * speed
    return int(float(source["fast_forward_s"]) // tick_s)


def agent_config(work: Path, broker_port: int, metrics_port: int, warming_s: float) -> tuple[Path, int]:
    """The agent's config file, and the ticks of its fast-forward."""
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    fast_ticks = warming_clock(data, warming_s)
    data["sinks"] = [{"type": "jsonl", "path": str(work / "alerts.jsonl")},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker_port}, "prefix": "stad"}]
    data["state_dir"] = str(work / "state")
    data["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
    data["scoring"]["bundle"] = "builtin:demo-corridor"
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, fast_ticks


def start_prometheus(work: Path, port: int) -> subprocess.Popen:
    """Prometheus with no target yet: `scrape_agent` gives it the agent's address (file_sd) when it is time."""
    conf = work / "prometheus.yml"
    conf.write_text(yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
        "scrape_configs": [{"job_name": "stad-agent", "file_sd_configs": [
            {"files": [str(work / "targets.json")], "refresh_interval": f"{SCRAPE_S}s"}]}]}))
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={work / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(work / "prometheus.log", "wb"))
    wait_for("prometheus", lambda: http_get(f"http://127.0.0.1:{port}/-/ready") is not None)
    return proc


def scrape_agent(work: Path, port: int, metrics_port: int) -> None:
    """Give Prometheus the agent's address and wait for its first scrape of it."""
    targets = work / "targets.json"
    targets.with_suffix(".tmp").write_text(json.dumps([{"targets": [f"127.0.0.1:{metrics_port}"],
                                                        "labels": {"instance": INSTANCE}}]))
    targets.with_suffix(".tmp").replace(targets)        # whole, never half-written, when Prometheus reads it

    def scraped() -> bool:
        active = json.loads(http_get(f"http://127.0.0.1:{port}/api/v1/targets"))["data"]["activeTargets"]
        return any(t["health"] == "up" for t in active)
    wait_for("prometheus's first scrape of the agent", scraped, 60)


def ticks(metrics_port: int) -> float:
    """The agent's stad_ticks_total now."""
    found = re.search(r"^stad_ticks_total (\S+)$", http_get(f"http://127.0.0.1:{metrics_port}/metrics").decode(), re.M)
    return float(found.group(1)) if found else 0.0


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scrape_run(work: Path, seconds: float, outage: tuple[float, float] | None, warming_s: float
               ) -> tuple[subprocess.Popen, int, float, float]:
    """Run broker, agent and Prometheus for `seconds`; Prometheus (still running, to be asked), its
    port and the run's time span."""
    broker_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    broker = start_broker(work, broker_port)
    agent = prom = None
    try:
        prom = start_prometheus(work, prom_port)
        cfg, fast_ticks = agent_config(work, broker_port, metrics_port, warming_s)
        agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)),
                                 stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
        # Scraping starts once the fast-forward is over (module docstring: its burst of ticks).
        wait_for("the agent's metrics endpoint, its fast-forward over", lambda: ticks(metrics_port) >= fast_ticks, 300)
        scrape_agent(work, prom_port, metrics_port)
        started = time.time()
        print(f"dashboard: agent, broker and prometheus up, {warming_s:g} s of the warm-up left; scraping for "
              f"{seconds:g} s", file=sys.stderr)
        down = False
        while time.time() - started < seconds:
            elapsed = time.time() - started
            if outage and not down and outage[0] <= elapsed < outage[1]:
                broker.kill()
                broker.wait()
                down = True
                print(f"dashboard: broker killed at {elapsed:.0f} s", file=sys.stderr)
            elif outage and down and elapsed >= outage[1] and broker.poll() is not None:
                broker = start_broker(work, broker_port)
                print(f"dashboard: broker back at {elapsed:.0f} s", file=sys.stderr)
            if agent.poll() is not None:
                raise SystemExit(f"dashboard: the agent stopped (exit {agent.returncode}); see {work / 'agent.log'}")
            time.sleep(0.5)
        time.sleep(2 * SCRAPE_S)            # the last scrape lands
        return prom, prom_port, started, time.time()
    except BaseException:
        stop(prom)
        raise
    finally:
        stop(agent)
        stop(broker)


def scoring_shown(panels: list[dict]) -> str:
    """What the scoring panel draws at 1, in order: `warming 62 s, tflite 478 s` (the words of health's
    `scoring.state` for a state, the tier's name for a tier)."""
    [panel] = [p for p in panels if any(t["expr"].startswith("stad_scoring_tier{") for t in p["targets"])]
    at: dict[float, str] = {}
    for target in panel["targets"]:
        if target["expr"].startswith(("stad_scoring_tier{", "stad_scoring_state{")):
            for series in target["result"]:
                name = series["metric"].get("state") or series["metric"].get("tier")
                at.update({float(t): name for t, v in series["values"] if float(v) == 1})
    spans: list[list] = []
    for t in sorted(at):
        if spans and spans[-1][0] == at[t]:
            spans[-1][2] = t
        else:
            spans.append([at[t], t, t])
    return ", ".join(f"{name} {last - first + SCRAPE_S:.0f} s" for name, first, last in spans) or "nothing"


# ---- the queries --------------------------------------------------------------------------------

def query_range(port: int, expr: str, start: float, end: float) -> list[dict]:
    q = urllib.parse.urlencode({"query": expr.replace("$instance", ".*"), "start": f"{start:.3f}",
                                "end": f"{end:.3f}", "step": f"{SCRAPE_S}s"})
    answer = json.loads(http_get(f"http://127.0.0.1:{port}/api/v1/query_range?{q}", timeout=30))
    if answer.get("status") != "success":
        raise SystemExit(f"dashboard: prometheus refused {expr!r}: {answer.get('error')}")
    return answer["data"]["result"]


def panel_results(port: int, start: float, end: float) -> list[dict]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for panel in dashboard["panels"]:
        targets = [{"expr": t["expr"], "legend": t.get("legendFormat", ""),
                    "result": query_range(port, t["expr"], start, end)} for t in panel["targets"]]
        out.append({"title": panel["title"], "unit": panel.get("fieldConfig", {}).get("defaults", {}).get("unit"),
                    "grid": panel["gridPos"], "targets": targets})
    return out


# ---- the picture --------------------------------------------------------------------------------

UNITS = {"bytes": (1 / 2**20, "MiB"), "s": (1000.0, "ms"), "percentunit": (100.0, "%"), "ops": (1.0, "/s")}


def legend(fmt: str, labels: dict) -> str:
    """Grafana's legendFormat filled in; the one instance's name is left out (it is in the title)."""
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    return " ".join(text.replace(INSTANCE, "").split()) or INSTANCE


def render(panels: list[dict], start: float, end: float, path: Path, run: str) -> None:
    """The picture; `run` says what ran (the warm-up shown, the broker outage) in its title."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = max(p["grid"]["y"] + p["grid"]["h"] for p in panels) // 7
    fig, axes = plt.subplots(rows, 2, figsize=(14, 2.6 * rows), squeeze=False)
    for panel in panels:
        ax = axes[panel["grid"]["y"] // 7][0 if panel["grid"]["x"] < 12 else 1]
        scale, unit = UNITS.get(panel["unit"], (1.0, ""))
        drawn = 0
        for target in panel["targets"]:
            for series in target["result"]:
                ts = [datetime.fromtimestamp(float(t), timezone.utc) for t, _ in series["values"]]
                ys = [float(v) * scale for _, v in series["values"]]
                ax.plot(ts, ys, lw=1.4, label=legend(target["legend"], series["metric"]))
                drawn += 1
        ax.set_title(panel["title"] + (f" ({unit})" if unit else ""), fontsize=10, loc="left")
        ax.set_xlim(datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.margins(y=0.12)          # a line at the panel's top (the scoring panel's, at 1) stays off its frame
        if drawn:
            # "best": the scoring panel's lines (a state, then the tier) all run at 1, along the top
            # out of tight_layout: a legend taller than its panel (the rejects' 40 reasons) pushed every panel down
            ax.legend(fontsize=7, loc="best", ncol=2, framealpha=0.7).set_in_layout(False)
        else:
            ax.text(0.5, 0.5, "no data (no series in this run)", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
    fig.suptitle(f"stad-agent Grafana dashboard's queries on a real Prometheus scrape of a running agent\n"
                 f"({INSTANCE}: configs/demo.yaml; {run})\n"
                 "rendered with matplotlib by bench/dashboard.py, not a Grafana screenshot; times UTC; "
                 "rate(…[5m]) panels ramp up while their window is longer than the scrape so far",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    print(f"dashboard: {path}", file=sys.stderr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=out_file, default=str(REPO / "docs" / "dashboard.png"))
    p.add_argument("--seconds", type=float, default=540.0,
                   help="how long Prometheus scrapes the agent (rate(…[5m]) panels fill their window after 300 s)")
    p.add_argument("--warming", type=float, default=60.0,
                   help="seconds of the warm-up the picture starts with (0 to 1440: the demo's day at 60×; 0: the "
                        "picture starts at the first score)")
    p.add_argument("--outage", default="130:190", help="START:END seconds after start with the broker down; "
                                                       "'none' for no outage")
    p.add_argument("--data", default=None, help="also write the query answers (JSON) to this directory")
    args = p.parse_args(argv)
    if not 0 <= args.warming <= 1440:
        p.error(f"argument --warming: {args.warming:g} is not within 0 to 1440 (the demo's warm-up day at 60×)")
    try:
        outage = None if args.outage == "none" else tuple(float(x) for x in args.outage.split(":"))
    except ValueError:
        outage = ()
    if outage is not None and (len(outage) != 2 or not 0 <= outage[0] < outage[1]):
        p.error(f"argument --outage: {args.outage!r} is not START:END seconds (0 ≤ START < END) or 'none'")
    for binary in (PROMETHEUS, MOSQUITTO):
        if not Path(binary).exists():
            print(f"dashboard: {binary} is not installed (Debian: apt-get install prometheus mosquitto)",
                  file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="stad-dashboard-"))
    prom, done = None, False
    try:
        prom, port, start, end = scrape_run(work, args.seconds, outage, args.warming)
        panels = panel_results(port, start, end)
        print(f"dashboard: the scoring panel shows {scoring_shown(panels)}", file=sys.stderr)
        if args.data:
            Path(args.data).mkdir(parents=True, exist_ok=True)
            (Path(args.data) / "dashboard-queries.json").write_text(json.dumps(panels, indent=1))
        run = (f"the last {args.warming:g} s of its warm-up first" if args.warming else "from its first score") + \
            (f"; broker killed {outage[0]:g} s in, back at {outage[1]:g} s" if outage else "; no broker outage")
        render(panels, start, end, Path(args.out), run)
        done = True
    finally:
        stop(prom)
        if done:
            shutil.rmtree(work, ignore_errors=True)
        else:       # a failure's message names agent.log there: it must still be there to read
            print(f"dashboard: the run's files are kept in {work} (agent.log, prometheus.log, mosquitto.log)",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
