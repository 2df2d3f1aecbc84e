"""The source → loop queue is bounded in records and bytes, and every wait or loss is counted;
`run` imports nothing its config does not name."""
import subprocess
import sys
import textwrap
import threading

from agent.intake import IntakeQueue, record_bytes
from agent.records import Record


def rec(i: int, sensors: int = 1) -> Record:
    return Record(ts=float(i), values={f"s{j}": float(i) for j in range(sensors)}, origin="test")


def test_full_by_records_blocks_the_source_and_counts_it():
    q = IntakeQueue(max_records=2, max_bytes=1 << 30)
    assert q.put(rec(0)) and q.put(rec(1))
    done = threading.Event()

    def source():
        q.put(rec(2))
        done.set()

    t = threading.Thread(target=source, daemon=True)
    t.start()
    assert not done.wait(0.3)                      # waiting for room
    assert q.get(timeout=5).ts == 0.0
    assert done.wait(30)
    t.join(30)
    assert [q.get(timeout=5).ts for _ in range(2)] == [1.0, 2.0]
    stats = q.stats()
    assert stats["blocked"] == 1 and stats["dropped_at_stop"] == 0 and stats["peak_records"] == 2


def test_full_by_bytes_and_a_stop_counts_the_waiting_record_as_dropped():
    big = rec(0, sensors=50)
    q = IntakeQueue(max_records=1000, max_bytes=record_bytes(big) + 10)
    assert q.put(big)
    stop = threading.Event()
    stop.set()
    assert q.put(rec(1, sensors=50), stop, poll_s=0.01) is False
    stats = q.stats()
    assert stats["blocked"] == 1 and stats["dropped_at_stop"] == 1 and stats["depth"] == 1
    assert stats["bytes"] == record_bytes(big) and stats["peak_bytes"] == record_bytes(big)


def test_a_record_larger_than_the_byte_bound_still_passes_an_empty_queue():
    q = IntakeQueue(max_records=10, max_bytes=10)
    assert q.put(rec(0, sensors=100))
    q.put_marker("end")                              # markers never wait
    assert q.get(timeout=5).ts == 0.0 and q.get(timeout=5) == "end"
    assert q.get(timeout=0.01) is None


def test_run_imports_nothing_the_config_does_not_name(tmp_path):
    """A numpy-only agent with a replay source and a JSONL sink: no YAML-free config would need
    paho, sqlite3, the runtimes, matplotlib, the evaluator or OpenSSL."""
    (tmp_path / "data.csv").write_text("timestamp,a,b\n" + "".join(f"{i * 10},{i % 7},{i % 5}\n" for i in range(80)))
    (tmp_path / "agent.yaml").write_text(textwrap.dedent("""
        sensors: [a, b]
        tick_s: 10
        sources: [{type: replay, path: data.csv, speed: 0}]
        warmup: {ticks: 40}
        scoring: {chain: [numpy]}
        sinks: [{type: jsonl, path: alerts.jsonl}]
        state_dir: state
    """))
    code = ("import sys; from agent.cli import main; rc = main(sys.argv[1:]); "
            "print(' '.join(sorted(sys.modules)))")
    res = subprocess.run([sys.executable, "-c", code, "run", "-c", str(tmp_path / "agent.yaml")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    loaded = set(res.stdout.split())
    assert "agent.pipeline" in loaded
    unwanted = {"paho", "sqlite3", "onnxruntime", "ai_edge_litert", "matplotlib", "agent.evaluate",
                "agent.listen", "agent.outbox", "ssl", "tempfile"}
    assert not unwanted & {m.split(".")[0] if not m.startswith("agent.") else ".".join(m.split(".")[:2])
                           for m in loaded}
