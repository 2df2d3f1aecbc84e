"""The range a Modbus register holds short of its rail values, for a sensor `sensors` gives no `min` / `max`.

An open or shorted 4–20 mA loop does not read 0 at the PLC: its analog input card reports a fault code, the
extreme its register holds — 0xFFFF in an unsigned 16-bit register, -32768 (0x8000) or 32767 (0x7FFF) in a signed
one (Siemens' overflow and underflow, many cards' wire break), the same at 32 bits. Read as a number times its
scale that is a reading far off the sensor's normal (655.35 bar, -3276.8 °C), and a sensor with no configured range
was scored as one (user34, a pumping station's zone pressure on a broken loop): alone, a `spike` fault for `clear_s`,
then an incident alert (score 1 433) while the loop stayed broken; two at once, an alert on their first tick (score
14 060) until the `stuck` rule masked the held rails 90 s later. With `min` / `max` the same reading was an
`out_of_range` fault on its tick. So a sensor read from a Modbus integer register takes, where `sensors` gives no
`min` (or no `max`), the register's range short of its rails, times its scale, as that end of its range for the
fault rules: the rail value is an `out_of_range` fault on its tick, masked, never an incident, and the fault's
summary says it is the register's rail. A float32 has no rail (its "no reading" is a NaN, refused by the source).
The scorers, and every other use of `min` / `max`, see the config as written; a sensor's floor stays its own
(`floor`, else `min`, else 0), never the implied lower end.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import SensorSpec
from .sources.modbus_types import scale_places

#: data type → (lowest, highest) raw value that is not a rail
RAW_RANGE = {"uint16": (0, 0xFFFE), "int16": (-0x7FFF, 0x7FFE),
             "uint32": (0, 0xFFFFFFFE), "int32": (-0x7FFFFFFF, 0x7FFFFFFE)}
RAILS = {"uint16": "65535 (0xFFFF)", "int16": "-32768 (0x8000) or 32767 (0x7FFF)",
         "uint32": "4294967295 (0xFFFFFFFF)", "int32": "-2147483648 or 2147483647"}


@dataclass
class RegisterRange(SensorSpec):
    """A sensor spec whose range (or one end of it) is its register's, not the config's: `range_note` says so
    for a reading past an end `implied` (lower, upper)."""
    range_note: str = ""
    implied: tuple[bool, bool] = (False, False)

    def note_for(self, value: float) -> str:
        """The note for `value` when it lies past an implied end of the range, else ''."""
        below, above = value < self.min, value > self.max
        return self.range_note if (below and self.implied[0]) or (above and self.implied[1]) else ""


def with_register_ranges(specs: list[SensorSpec], sources: list) -> list[SensorSpec]:
    """`specs` with each Modbus integer register's sensor lacking `min` or `max` given its register's range there
    (a RegisterRange); every other spec as it is."""
    implied: dict[str, tuple[float, float, str]] = {}
    for source in sources:
        if getattr(source, "TYPE", None) != "modbus":   # (by its key: importing the Modbus plugin here loaded it,
            continue                                    # and its socket modules, into every agent: test_memory)
        for field in source.fields():
            raw = RAW_RANGE.get(field.data_type)
            scale = source.scale.get(field.sensor, 1.0)
            if raw is None or not isinstance(scale, (int, float)) or scale == 0:
                continue
            # (rounded as the source rounds its readings: 65534 × 0.7 is 45873.799999999996, read as 45873.8)
            places = scale_places(scale)
            lo, hi = sorted((round(raw[0] * scale, places), round(raw[1] * scale, places)))
            said = f" × {scale:g}" if scale != 1 else ""
            implied[field.sensor] = (lo, hi, f"its {field.where()} ({field.data_type}{said}) reads "
                                             f"{RAILS[field.data_type]} there: the rail value an input card gives for "
                                             f"a broken 4–20 mA loop or a channel fault (no min / max configured)")
    out = []
    for spec in specs:
        got = implied.get(spec.name)
        if got is None or (spec.min is not None and spec.max is not None):
            out.append(spec)
            continue
        lo, hi, note = got
        floor = spec.floor if spec.floor is not None else (spec.min if spec.min is not None else 0.0)
        out.append(RegisterRange(**{**vars(spec), "min": spec.min if spec.min is not None else lo,
                                    "max": spec.max if spec.max is not None else hi, "floor": floor},
                                 range_note=note, implied=(spec.min is None, spec.max is None)))
    return out
