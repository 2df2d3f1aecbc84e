"""The README's dashboard picture, made from a real Prometheus scrape of a running agent.

    python bench/dashboard.py [--out docs/dashboard.png] [--seconds 480] [--outage 70:130] [--data DIR]

Grafana is not installed here, so this is not a Grafana screenshot: it is a rendering, with
matplotlib, of the queries of configs/grafana/stad-agent-dashboard.json (panel by panel, in the
dashboard's layout, with its legends and units) run against a real Prometheus server that scraped a
real agent. What runs, all on 127.0.0.1 free ports, in a temp dir:

- a Mosquitto broker (the agent's MQTT sink and outbox need one);
- `stad-agent run` with configs/demo.yaml (the corridor simulator at 60×, the builtin model) and
  `metrics: {listen: ...}`;
- `prometheus` (Debian's package: /usr/bin/prometheus) scraping the agent every 2 s.

During the run the broker is stopped (SIGKILL) for the `--outage` span, seconds from the agent's
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


def agent_config(work: Path, broker_port: int, metrics_port: int) -> Path:
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    data["sinks"] = [{"type": "jsonl", "path": str(work / "alerts.jsonl")},
                     {"type": "mqtt", "broker": {"host": "127.0.0.1", "port": broker_port}, "prefix": "stad"}]
    data["state_dir"] = str(work / "state")
    data["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
    data["scoring"]["bundle"] = "builtin:demo-corridor"
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def start_prometheus(work: Path, port: int, metrics_port: int) -> subprocess.Popen:
    conf = work / "prometheus.yml"
    conf.write_text(yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
        "scrape_configs": [{"job_name": "stad-agent", "static_configs": [
            {"targets": [f"127.0.0.1:{metrics_port}"], "labels": {"instance": INSTANCE}}]}]}))
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={work / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(work / "prometheus.log", "wb"))
    wait_for("prometheus", lambda: http_get(f"http://127.0.0.1:{port}/-/ready") is not None)
    return proc


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scrape_run(work: Path, seconds: float, outage: tuple[float, float] | None
               ) -> tuple[subprocess.Popen, int, float, float]:
    """Run broker, agent and Prometheus for `seconds`; Prometheus (still running, to be asked), its
    port and the run's time span."""
    broker_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    broker = start_broker(work, broker_port)
    agent = prom = None
    try:
        cfg = agent_config(work, broker_port, metrics_port)
        agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], cwd=REPO,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)),
                                 stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
        # Scraping starts once the agent is warm: the demo fast-forwards 30 simulated hours first,
        # and that burst of ticks would dominate every rate() over the short run.
        wait_for("the agent's metrics endpoint, warm",
                 lambda: b"\nstad_warm 1.0" in http_get(f"http://127.0.0.1:{metrics_port}/metrics"), 300)
        prom = start_prometheus(work, prom_port, metrics_port)
        started = time.time()
        print(f"dashboard: agent, broker and prometheus up; scraping for {seconds:g} s", file=sys.stderr)
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


def render(panels: list[dict], start: float, end: float, path: Path) -> None:
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
        if drawn:
            ax.legend(fontsize=7, loc="upper left", ncol=2, framealpha=0.7)
        else:
            ax.text(0.5, 0.5, "no data (no series in this run)", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
    fig.suptitle(f"stad-agent Grafana dashboard's queries on a real Prometheus scrape of a running agent "
                 f"({INSTANCE}: configs/demo.yaml; broker killed and restarted mid-run)\n"
                 "rendered with matplotlib by bench/dashboard.py, not a Grafana screenshot; times UTC; "
                 "rate(…[5m]) panels ramp up while their window is longer than the scrape so far",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    print(f"dashboard: {path}", file=sys.stderr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=out_file, default=str(REPO / "docs" / "dashboard.png"))
    p.add_argument("--seconds", type=float, default=480.0,
                   help="how long Prometheus scrapes the agent (rate(…[5m]) panels fill their window after 300 s)")
    p.add_argument("--outage", default="70:130", help="START:END seconds after start with the broker down; "
                                                      "'none' for no outage")
    p.add_argument("--data", default=None, help="also write the query answers (JSON) to this directory")
    args = p.parse_args(argv)
    for binary in (PROMETHEUS, MOSQUITTO):
        if not Path(binary).exists():
            print(f"dashboard: {binary} is not installed (Debian: apt-get install prometheus mosquitto)",
                  file=sys.stderr)
            return 1
    outage = None if args.outage == "none" else tuple(float(x) for x in args.outage.split(":"))
    work = Path(tempfile.mkdtemp(prefix="stad-dashboard-"))
    prom = None
    try:
        prom, port, start, end = scrape_run(work, args.seconds, outage)
        panels = panel_results(port, start, end)
        if args.data:
            Path(args.data).mkdir(parents=True, exist_ok=True)
            (Path(args.data) / "dashboard-queries.json").write_text(json.dumps(panels, indent=1))
        render(panels, start, end, Path(args.out))
    finally:
        stop(prom)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
