"""A control room's incident table from a fleet's MQTT topics: README's "For a control room" as running code.

Not part of the agent (nothing imports it): the consumer an integrator at the centre writes, from README and the
schemas alone, kept here so that section is backed by a test (tests/test_user28_control_room.py: a real agent
killed and restarted, a real Mosquitto, this script stopped and started). It needs paho-mqtt (the agent's own
dependency) and, to check payloads against agent/schemas/, jsonschema.

    python docs/examples/control_room.py --host H --port P --prefix stad --session ops-room --table table.json

Why it subscribes the way it does (user28, each seen on a real broker):
- one persistent MQTT 5 session (clean_start False, a session expiry): the broker queues what it cannot deliver
  while this script is away, and it is re-subscribed at every connect (the retained state comes again);
- alerts, faults and feedback results at QoS 1: queued while away, none lost;
- status and health at QoS 0: their retained copy comes at every subscribe, so the session does not queue them —
  at QoS 1 a gateway's health (every `health_interval_s`) fills the session's queue (Mosquitto's
  `max_queued_messages`, 1000 by default) and the broker then drops what comes next, alert events among them.

The table: one row per alert (`alert_id`) and per sensor fault (`fault_id`), kept apart (a fault sends a
technician, not a patrol), keyed with site and node (a fleet may reuse a node id at two sites). A repeat
(alert_id, seq) is dropped; a seq after a gap is kept and the missing seqs are listed on the row (an event that
comes later fills them); a row can open on any event, or on a health's `alert_open` (events on their way or
expired). An open row whose gateway is offline (its retained status, or a health older than twice the
`health_interval_s` it carries) shows `gateway offline`, not open nor over. A gateway's build (health's `agent_build`)
is kept and a change said — `site/gw-07 runs build 1a2b… (was build 9f8e…): resumed its state` — an upgrade's progress
across the fleet (user39). The table and the seen keys are saved atomically to `--table`
after every change and read at start, so a restart of this script keeps them. Kept whole for an example: a console
left running for months bounds its seen keys (`stad-agent listen` keeps the last 100,000) and drops ended rows.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SCHEMAS = Path(__file__).resolve().parents[2] / "agent" / "schemas"
SCHEMA_FILES = {"alerts": "alert.schema.json", "faults": "fault.schema.json", "health": "health.schema.json",
                "feedback/result": "feedback_result.schema.json"}
QUEUED = ("alerts", "faults", "feedback/result")        # QoS 1: the session keeps them while away
RETAINED = ("status", "health")                         # QoS 0: the retained copy comes at every subscribe


def validators(schema_dir: Path | None) -> dict:
    """topic kind -> jsonschema validator; {} without a directory or without jsonschema installed."""
    if schema_dir is None:
        return {}
    import jsonschema           # only when asked: the table works without it
    return {kind: jsonschema.Draft202012Validator(json.loads((schema_dir / name).read_text()))
            for kind, name in SCHEMA_FILES.items()}


def utc_seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class IncidentTable:
    """Alert and fault rows from the topics' messages; no MQTT in here (take() is fed by the client)."""

    def __init__(self, path: Path | None = None, checks: dict | None = None, stale_s: float = 60.0):
        self.path, self.checks, self.stale_s = path, checks or {}, stale_s
        saved = json.loads(path.read_text()) if path is not None and path.exists() else {}
        self.alerts: dict[str, dict] = saved.get("alerts", {})      # "site/node alert_id" -> row
        self.faults: dict[str, dict] = saved.get("faults", {})      # "site/node fault_id" -> row
        self.nodes: dict[str, dict] = saved.get("nodes", {})        # "site/node" -> {status, health_ts, ...}
        self.seen: set[str] = set(saved.get("seen", []))            # "site/node id seq"
        self.counts: dict[str, int] = saved.get("counts", {})       # duplicates, invalid, gaps, …
        self.feedback: list[dict] = saved.get("feedback", [])

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def take(self, topic: str, payload: bytes, prefix: str) -> str | None:
        """One message; what changed, as a line for the screen, or None."""
        parts = topic[len(prefix) + 1:].split("/") if topic.startswith(prefix + "/") else []
        if len(parts) < 3:
            return None
        node, kind = f"{parts[0]}/{parts[1]}", "/".join(parts[2:])
        state = self.nodes.setdefault(node, {"status": None, "health_ts": None, "alert_open": None})
        if kind == "status":
            state["status"] = payload.decode("utf-8", "replace")
            return f"{node} is {state['status']}"
        try:
            msg = json.loads(payload)
        except ValueError:
            self.count("not_json")
            return f"{topic}: not JSON, skipped"
        check = self.checks.get(kind)
        problems = [e.message for e in check.iter_errors(msg)] if check is not None else []
        if problems:
            self.count(f"invalid {kind}")
            print(f"{topic}: the schema refuses it: {problems[0]}", file=sys.stderr)
        if kind == "health" and isinstance(msg, dict):
            return self._health(node, state, msg)
        if kind == "feedback/result" and isinstance(msg, dict):
            self.feedback.append(msg)
            return f"{node} feedback {msg.get('verdict')} on {msg.get('alert_id')}: accepted={msg.get('accepted')}"
        if kind in ("alerts", "faults") and isinstance(msg, dict):
            ident = msg.get("alert_id" if kind == "alerts" else "fault_id")
            if not isinstance(ident, str) or not isinstance(msg.get("seq"), int):
                self.count(f"unusable {kind}")
                return f"{topic}: no id or seq, skipped"
            return self._event(node, kind, ident, msg)
        return None

    def _event(self, node: str, kind: str, ident: str, msg: dict) -> str | None:
        key, seq = f"{node} {ident}", msg["seq"]
        if f"{key} {seq}" in self.seen:
            self.count("duplicates")
            return None
        self.seen.add(f"{key} {seq}")
        rows = self.alerts if kind == "alerts" else self.faults
        row = rows.get(key)
        if row is None:
            row = rows[key] = {"node": node, "id": ident, "start": msg.get("start"), "state": "open", "seqs": [],
                               "missing": [], "opened_by": msg.get("event")}
            if kind == "faults":
                row.update(sensor=msg.get("sensor"), kind=msg.get("kind"))
        last = max(row["seqs"] + [row.get("health_seq", -1)])
        if seq > last + 1:
            self.count("gaps")
            row["missing"] += list(range(last + 1, seq))
        if seq in row["missing"]:
            row["missing"].remove(seq)
        row["seqs"] = sorted(row["seqs"] + [seq])
        if seq >= last:          # the newest event says the row's state; an older one (a replay, a gap filled) only fills
            row.update(last_event=msg.get("event"), ts=msg.get("ts"))
            if msg.get("event") in ("end", "fault_end"):
                row.update(state="ended", reason=msg.get("reason"), end=msg.get("end"))
            if kind == "alerts":
                row.update(peak_score=msg.get("peak_score"), top_sensors=[s.get("sensor") for s in
                                                                          msg.get("top_sensors") or []])
            elif msg.get("sensors"):         # a station fault: a fault_update says every sensor it now stands for
                row["sensors"] = msg["sensors"]
        if msg.get("gap_s") is not None:
            row["gap_s"] = msg["gap_s"]
        return (f"{node} {msg.get('event')} #{seq} {ident}" + (" (replayed)" if msg.get("replayed") else "")
                + (f" {msg.get('reason')}" if msg.get("reason") else ""))

    def _health(self, node: str, state: dict, msg: dict) -> str | None:
        state["health_ts"], state["alert_open"] = msg.get("ts"), msg.get("alert_open")
        state["faults_active"] = msg.get("faults_active")
        state["health_interval_s"] = msg.get("health_interval_s")
        lines = [line] if (line := self._build(node, state, msg)) else []
        open_ = msg.get("alert_open")
        key = f"{node} {open_['alert_id']}" if open_ else None
        if open_ and key not in self.alerts:    # its events on their way (health is not queued behind them) or gone
            self.alerts[key] = {"node": node, "id": open_["alert_id"], "start": open_["start"], "state": "open",
                                "seqs": [], "missing": list(range(open_["seq"] + 1)), "opened_by": "health",
                                "health_seq": open_["seq"]}
            lines.append(f"{node} health names {open_['alert_id']} (seq {open_['seq']}): row opened")
        return "\n".join(lines) or None

    @staticmethod
    def _build(node: str, state: dict, msg: dict) -> str | None:
        """The build the gateway runs (health's `agent_build`; every build says version 0.1.0; a release before it
        sends none): kept per gateway, a change said — an upgrade's (or a rollback's) progress across the fleet,
        with whether the new build resumed the gateway's state (`checkpoint_at_start`) or started cold."""
        built = msg.get("agent_build") if isinstance(msg.get("agent_build"), dict) else {}
        now = built.get("build") if isinstance(built.get("build"), str) else "none sent"
        was, state["build"] = state.get("build"), now
        if was is None or was == now:
            return None
        def named(b: str) -> str:
            return f"build {b}" if b != "none sent" else "a release that sends no build"
        start = msg.get("checkpoint_at_start") if isinstance(msg.get("checkpoint_at_start"), dict) else {}
        kept = built.get("checkpoint_build")
        if start.get("state") != "resumed":
            why = f": {start['detail']}" if start.get("detail") else ""
            how = f"started cold (checkpoint {start.get('state')}{why})"
        elif kept == was or (kept == "unrecorded" and was == "none sent"):
            how = "resumed its state"
        elif isinstance(kept, str) and kept != "unrecorded":
            how = f"resumed a checkpoint of {named(kept)}"
        else:
            how = "resumed a checkpoint"
        return f"{node} runs {named(now)} (was {named(was)}): {how}"

    def node_offline(self, node: str, now: float) -> bool:
        """Its status says offline, or its health is older than twice its health_interval_s (`--stale-s` for an
        agent that does not send it): a retained `online` outlives an agent that died with its broker."""
        state = self.nodes.get(node, {})
        stamp, every = state.get("health_ts"), state.get("health_interval_s")
        stale_s = 2 * every if every else self.stale_s
        return state.get("status") == "offline" or (stamp is not None and now - utc_seconds(stamp) > stale_s)

    def view(self, now: float | None = None) -> dict:
        """The table as shown: each row's state, `gateway offline` for an open row of a gateway that is away."""
        now = time.time() if now is None else now
        def shown(row: dict) -> dict:
            away = row["state"] == "open" and self.node_offline(row["node"], now)
            return {**row, "shown": "gateway offline" if away else row["state"]}
        return {"alerts": {k: shown(r) for k, r in self.alerts.items()},
                "faults": {k: shown(r) for k, r in self.faults.items()},
                "nodes": self.nodes, "counts": self.counts, "feedback": self.feedback}

    def save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({**self.view(), "seen": sorted(self.seen)}, indent=1))
        os.replace(tmp, self.path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="stad", help="the sinks' prefix; `fleet` behind the bridge")
    ap.add_argument("--session", default="ops-room", help="client id of the persistent session")
    ap.add_argument("--session-expiry-s", type=int, default=86400, help="longer than this script's longest absence")
    ap.add_argument("--table", type=Path, default=Path("table.json"))
    ap.add_argument("--schemas", type=Path, default=None, help=f"check payloads against these ({SCHEMAS})")
    ap.add_argument("--stale-s", type=float, default=60.0, help="a health older than this: gateway offline, "
                    "for an agent whose health does not say its health_interval_s (before 2026-12-06)")
    args = ap.parse_args(argv)
    table = IncidentTable(args.table, validators(args.schemas), args.stale_s)
    lock, stop = threading.Lock(), threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.session, protocol=mqtt.MQTTv5)

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            print(f"the broker refused the connection: {reason_code}", file=sys.stderr)
            return
        print(f"connected (session {'kept' if flags.session_present else 'new'})", flush=True)
        client.subscribe([(f"{args.prefix}/+/+/{leaf}", 1) for leaf in QUEUED]
                         + [(f"{args.prefix}/+/+/{leaf}", 0) for leaf in RETAINED])

    def on_message(client, userdata, msg):
        with lock:
            line = table.take(msg.topic, msg.payload, args.prefix)
            table.save()            # before paho acknowledges it: a kill of this script loses no event
        if line:
            print(line, flush=True)

    client.on_connect, client.on_message = on_connect, on_message
    client.reconnect_delay_set(1, 30)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = args.session_expiry_s
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect_async(args.host, args.port, keepalive=30, clean_start=False, properties=props)
    client.loop_start()
    try:
        while not stop.wait(1.0):
            with lock:
                table.save()        # `shown` follows the clock: a gateway whose health went stale
    except KeyboardInterrupt:
        pass
    client.disconnect()
    client.loop_stop()
    with lock:
        table.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
