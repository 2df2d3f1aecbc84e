"""The aligner and window: gaps, NaN, duplicates, out-of-order and late samples, by rule."""
import numpy as np

from agent.records import Record, Rejects
from agent.window import Aligner, Normaliser, WindowBuffer, sliding_windows, stack_rows

SENSORS = ["a", "b"]


def aligner(rejects, carry=20.0, lateness=0):
    return Aligner(SENSORS, tick_s=10.0, carry_forward_s=carry, lateness_ticks=lateness, rejects=rejects)


def test_ticks_close_in_order_with_values():
    rj = Rejects()
    al = aligner(rj)
    assert al.push(Record(ts=100.0, values={"a": 1.0, "b": 2.0})) == []
    rows = al.push(Record(ts=112.0, values={"a": 3.0, "b": 4.0}))
    assert len(rows) == 1 and rows[0].ts == 100.0
    assert rows[0].values.tolist() == [1.0, 2.0] and not rows[0].missing.any()


def test_gap_carries_then_marks_missing():
    rj = Rejects()
    al = aligner(rj, carry=20.0)
    al.push(Record(ts=0.0, values={"a": 1.0, "b": 5.0}))
    rows = []
    for k in range(1, 6):
        rows += al.push(Record(ts=k * 10.0, values={"b": float(k)}))
    rows += al.flush_all()
    a_vals = [r.values[0] for r in rows]
    a_missing = [bool(r.missing[0]) for r in rows]
    a_carried = [bool(r.carried[0]) for r in rows]
    # tick 0 observed, ticks 1-2 carried (20 s bound), ticks 3-5 missing
    assert a_carried == [False, True, True, False, False, False]
    assert a_missing == [False, False, False, True, True, True]
    assert a_vals[:3] == [1.0, 1.0, 1.0] and all(np.isnan(a_vals[3:]))
    assert rj.total == 0


def test_nan_duplicate_late_unknown_are_counted_with_reasons():
    rj = Rejects()
    al = aligner(rj)
    al.push(Record(ts=0.0, values={"a": 1.0}, origin="x.csv:2"))
    al.push(Record(ts=1.0, values={"a": 9.0}, origin="x.csv:3"))                # duplicate in tick 0
    al.push(Record(ts=2.0, values={"b": float("nan")}, origin="x.csv:4"))      # NaN
    al.push(Record(ts=3.0, values={"zz": 1.0}, origin="x.csv:5"))              # unknown sensor
    rows = al.push(Record(ts=25.0, values={"a": 2.0}, origin="x.csv:6"))       # closes ticks 0, 1
    al.push(Record(ts=5.0, values={"b": 1.0}, origin="x.csv:7"))               # late
    assert rj.as_dict() == {"duplicate": 1, "non-finite value": 1, "unknown sensor": 1, "late": 1}
    assert rows[0].values[0] == 1.0     # the first value wins
    assert rows[0].missing[1]           # NaN left b missing


def test_out_of_order_within_lateness_is_accepted():
    rj = Rejects()
    al = aligner(rj, lateness=1)
    al.push(Record(ts=0.0, values={"a": 1.0}))
    al.push(Record(ts=10.0, values={"a": 2.0}))
    rows = al.push(Record(ts=5.0, values={"b": 7.0}))      # tick 0 still open
    assert rows == [] and rj.total == 0 and al.reordered == 1
    rows = al.push(Record(ts=20.0, values={"a": 3.0, "b": 3.0}))
    assert rows[0].values.tolist() == [1.0, 7.0]


def test_long_outage_is_skipped_not_emitted_tick_by_tick():
    rj = Rejects()
    al = Aligner(SENSORS, 10.0, 0.0, 0, rj, max_gap_ticks=5)
    al.push(Record(ts=0.0, values={"a": 1.0, "b": 1.0}))
    rows = al.push(Record(ts=10_000.0, values={"a": 1.0, "b": 1.0}))
    assert 1 + 5 == len(rows)
    assert all(r.missing.all() for r in rows[1:])


def test_normaliser_and_window_buffer_match_batch_windows():
    rng = np.random.default_rng(1)
    raw = rng.normal(10, 3, size=(50, 2))
    raw[7, 1] = np.nan
    norm = Normaliser.fit(raw)
    z = norm.apply(raw)
    assert z[7, 1] == 0.0 and abs(float(np.nanmean(z[:, 0]))) < 1e-6
    missing = np.isnan(raw)
    buf = WindowBuffer(8, 2)
    for i in range(50):
        buf.push(z[i], missing[i], float(i))
    vw, mw = sliding_windows(z, missing, 8)
    assert np.array_equal(buf.values, vw[-1]) and np.array_equal(buf.missing, mw[-1])
    assert buf.ts.tolist() == [float(i) for i in range(42, 50)]
    assert np.array_equal(buf.row(0), z[49]) and np.array_equal(buf.row(3), z[46])


def test_stack_rows_shapes():
    rj = Rejects()
    al = aligner(rj)
    rows = []
    for k in range(5):
        rows += al.push(Record(ts=k * 10.0, values={"a": float(k), "b": 1.0}))
    rows += al.flush_all()
    ts, raw, missing = stack_rows(rows)
    assert ts.tolist() == [0.0, 10.0, 20.0, 30.0, 40.0] and raw.shape == (5, 2) and missing.shape == (5, 2)


def test_one_bogus_future_stamp_does_not_make_real_data_late():
    rj = Rejects()
    al = aligner(rj)
    rows = []
    for k in range(5):
        rows += al.push(Record(ts=1_000_000 + k * 10.0, values={"a": 1.0, "b": 1.0}))
    rows += al.push(Record(ts=9e9, values={"a": 1.0}, origin="udp 127.0.0.1:9"))            # beyond 2100
    rows += al.push(Record(ts=1_000_000 + 50 * 86400.0, values={"a": 1.0}, origin="x:7"))  # 50 days ahead
    for k in range(5, 10):
        rows += al.push(Record(ts=1_000_000 + k * 10.0, values={"a": 1.0, "b": 1.0}))
    assert rj.as_dict() == {"bad timestamp": 1, "timestamp jump": 1}
    assert len(rows) == 9 and "late" not in rj.counts
    # A real jump is confirmed by the next sample and then taken.
    rows = al.push(Record(ts=2_000_000.0, values={"a": 1.0}))
    rows += al.push(Record(ts=2_000_010.0, values={"a": 1.0}))
    assert rows and rj.counts["timestamp jump"] == 2
