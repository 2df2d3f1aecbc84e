"""qa55 (user35's left item): a per-record reject line names the record's sensors, not only its sender. One
controller's socket may serve several stations: `rejected udp 127.0.0.1:43016: clock skew — ts … is +60 min …` could
not say which station's clock went to summer time. Now the line names the sensors, grouped by station when there are
many, bounded."""
from __future__ import annotations

import logging

from agent.records import DETAIL_CHARS, Record, Rejects
from agent.window import Aligner

from conftest import free_port, start_logged_agent, stop_agent, wait_for
from udp_lives import Sender, write_config

T0 = 1_767_225_600.0
STATIONS = [f"K{i:03d}" for i in range(12, 32, 2)]                      # ten stations, K012 … K030
SENSORS = [f"{st}_{q}" for st in STATIONS for q in ("flow", "occ", "speed")]


def test_one_socket_for_every_station_its_clock_skew_line_names_the_station_whose_clock_is_off(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    controller = Sender(port)
    controller.station_clock = {"a": 0.0, "b": 0.0}       # one socket, a datagram per station
    proc = start_logged_agent(cfg, tmp_path, "agent")
    err = tmp_path / "agent.err"
    try:
        wait_for(lambda: "first tick" in err.read_text(), "the first tick", timeout=120, proc=proc)
        controller.station_clock["b"] = 3600.0              # station b's controller went to summer time
        wait_for(lambda: "clock skew" in err.read_text(), "a clock skew said", timeout=120, proc=proc)
    finally:
        controller.stop()
        stop_agent(proc)
    lines = [line for line in err.read_text().splitlines() if "rejected udp 127.0.0.1:" in line and "clock skew" in line]
    # on 3ed21786: "rejected udp 127.0.0.1:P: clock skew — ts … is +60 min from this host's clock (…)": no station
    assert lines and all(" of sensors 'b_x', 'b_y' is +60 min from this host's clock" in line for line in lines), lines


def test_a_record_of_many_stations_is_named_by_station_and_bounded(caplog):
    caplog.set_level(logging.WARNING, logger="stad.input")
    al = Aligner(SENSORS, 1.0, 0.0, 0, Rejects())
    values = {s: 1.0 for s in SENSORS}
    al.push(Record(ts=T0, values=values, origin="udp 10.0.0.5:4000", received=T0 + 3600))
    al.push(Record(ts=T0, values={"K028_flow": 1.0, "K028_occ": 2.0, "K028_speed": 3.0, "K030_flow": 1.0,
                                  "K030_occ": 1.0}, origin="udp 10.0.0.5:4000", received=T0 + 3600))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "ts 2026-01-01T00:00:00.000Z of 30 sensors (K012_* ×3, K014_* ×3, K016_* ×3, K018_* ×3 and 18 more) is " \
           "-60 min from this host's clock" in lines[0], lines[0]
    assert "of 5 sensors (K028_* ×3, K030_* ×2) is -60 min" in lines[1], lines[1]
    from agent.records import sensors_said       # (qa55's)
    long_names = ["x" * 5000 + str(i) for i in range(200)]
    assert len(sensors_said(long_names)) < 320 and len(sensors_said(long_names[:3])) < 240      # (4 names of ~70)
    assert all(len(line) < 120 + DETAIL_CHARS + 120 for line in lines)


def test_late_duplicate_and_repeated_lines_name_every_sensor_of_the_record(caplog):
    caplog.set_level(logging.WARNING, logger="stad.input")
    al = Aligner(SENSORS, 1.0, 0.0, 0, Rejects())
    k028 = {"K028_flow": 1.0, "K028_occ": 2.0, "K028_speed": 3.0}
    for k in range(3):
        al.push(Record(ts=T0 + k, values=dict(k028), origin="udp 10.0.0.5:4000"))
    al.push(Record(ts=T0 + 2, values=dict(k028), origin="udp 10.0.0.5:4000"))                     # again, open tick
    al.push(Record(ts=T0 + 2.5, values={"K028_flow": 5.0, "K030_occ": 1.0}, origin="udp 10.0.0.5:4000"))
    al.push(Record(ts=T0 + 3, values=dict(k028), origin="udp 10.0.0.5:4000"))
    al.push(Record(ts=T0 + 2, values={"K028_flow": 1.0, "K028_occ": 9.0}, origin="udp 10.0.0.5:4000"))  # late
    lines = [r.getMessage() for r in caplog.records]
    assert any("repeated reading — sensors 'K028_flow', 'K028_occ', 'K028_speed' at " in line for line in lines), lines
    assert any("duplicate — sensor 'K028_flow' already has a value" in line for line in lines), lines
    assert any("late — sensor 'K028_flow' value 1.0 and 1 more ('K028_occ'): its tick" in line for line in lines), lines
