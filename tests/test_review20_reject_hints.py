"""Two rejects an integrator hits on the first day of a live feed say how to fix them (review20's sixth
finding): a PLC or script that sends epoch *milliseconds* got "is not a time between 1970 and 2100" and no
more, and a sensor name in the wrong case got "unknown sensor" without the name it almost is — the config
loader says "did you mean" for the same mistake in a config, the live path did not."""
import logging

from agent.records import Record, Rejects
from agent.window import Aligner

SENSORS = ["S02_speed", "S03_flow"]
NOW_S = 1796416824.407          # 2026-12-04, seconds since 1970


def aligner(rj: Rejects) -> Aligner:
    return Aligner(SENSORS, 1.0, 0.0, 0, rj)


def test_a_stamp_in_milliseconds_is_named_as_such(caplog):
    rj = Rejects()
    with caplog.at_level(logging.WARNING):
        aligner(rj).push(Record(ts=NOW_S * 1000, values={"S02_speed": 1.0}, origin="udp 127.0.0.1:5555"))
    assert rj.counts["bad timestamp"] == 1
    detail = rj.first["bad timestamp"][1]
    assert "is not a time between 1970 and 2100" in detail
    assert "milliseconds" in detail and "seconds" in detail
    assert "milliseconds" in caplog.text


def test_a_stamp_in_microseconds_is_named_as_such():
    rj = Rejects()
    aligner(rj).push(Record(ts=NOW_S * 1e6, values={"S02_speed": 1.0}, origin="stdin:3"))
    assert "microseconds" in rj.first["bad timestamp"][1]


def test_a_stamp_that_is_no_unit_of_a_time_gets_no_guess():
    for ts in (-5.0, 1e30, float("nan")):
        rj = Rejects()
        aligner(rj).push(Record(ts=ts, values={"S02_speed": 1.0}, origin="stdin:1"))
        detail = rj.first["bad timestamp"][1]
        assert "is not a time between 1970 and 2100" in detail
        assert "seconds" not in detail, (ts, detail)


def test_an_unknown_sensor_says_the_name_it_almost_is(caplog):
    rj = Rejects()
    al = aligner(rj)
    with caplog.at_level(logging.WARNING):
        al.align_all([Record(ts=NOW_S + i, values={"s02_speed": 1.0, "S03_flow": 2.0}, origin="udp 127.0.0.1:5555")
                      for i in range(3)])
    assert rj.counts["unknown sensor"] == 3
    assert "did you mean 'S02_speed'?" in rj.first["unknown sensor"][1]
    assert "did you mean 'S02_speed'?" in caplog.text
    # A name like none of them gets no guess, and the hint is counted the same way every time: once a record (qa54:
    # a record's two unknown sensors were two rejects), both names said.
    with caplog.at_level(logging.WARNING):
        al.align_all([Record(ts=NOW_S + 10 + i, values={"vibration_x": 1.0, "s02_speed": 3.0, "S03_flow": 2.0},
                             origin="udp 127.0.0.1:5555") for i in range(3)])
    assert rj.counts["unknown sensor"] == 6
    assert "sensor 'vibration_x' value 1.0; sensor 's02_speed' (did you mean 'S02_speed'?) value 3.0" in caplog.text


def test_a_name_like_none_gets_no_guess():
    rj = Rejects()
    aligner(rj).align_all([Record(ts=NOW_S + i, values={"vibration_x": 1.0, "S03_flow": 2.0}, origin="stdin:1")
                           for i in range(3)])
    assert "did you mean" not in rj.first["unknown sensor"][1]
