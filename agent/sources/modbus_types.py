"""What a Modbus data type the source does not know was meant to be, from the register map (user25).

check-config answered `data_types: {temp_motor: int}` with "did you mean 'int32'?" — the closest spelling, and the
wrong width: the PLC's value was one 16-bit register (a PLC's INT is 16 bits; C's int is 32). The width is what
the map says: a value whose next register is another sensor's, or that sits at the table's last address, is one
register; otherwise both widths fit and the line says which register(s) each would read. A PLC programmer's IEC
61131-3 names (INT, DINT, WORD, REAL …) are taken as what they mean; 64-bit ones are said to be unreadable."""
from __future__ import annotations

from decimal import Decimal

from ..typed import did_you_mean

#: data type → registers it spans (the source's LAYOUT; here to keep this module free of the source)
WIDTH = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
#: data type → the IEC 61131-3 name a PLC programmer knows it by
IEC = {"uint16": "UINT or WORD", "int16": "INT", "uint32": "UDINT or DWORD", "int32": "DINT", "float32": "REAL"}
#: a word a user may write → (what it is, the data types it may mean)
MEANT = {
    **{w: ("a signed integer", ("int16", "int32")) for w in ("int", "integer", "signed", "sint16", "sint32")},
    **{w: ("an unsigned integer", ("uint16", "uint32")) for w in ("uint", "unsigned", "unsigned int")},
    **{w: ("a 16-bit signed integer", ("int16",)) for w in ("short", "int16_t")},
    **{w: ("a 16-bit unsigned integer", ("uint16",)) for w in ("word", "ushort", "uint16_t")},
    **{w: ("a 32-bit unsigned integer", ("uint32",)) for w in ("dword", "udint", "uint32_t")},
    **{w: ("a 32-bit signed integer", ("int32",)) for w in ("dint", "int32_t")},
    **{w: ("a float", ("float32",)) for w in ("float", "real", "single", "ieee754")},
    **{w: ("a 64-bit value", ()) for w in ("double", "float64", "lreal", "int64", "uint64", "lint", "ulint")},
}
WIDTHS = "'uint16' and 'int16' read one register, 'uint32', 'int32' and 'float32' two"


def unknown_type(value: str, table: str, address: int | None, one_register: str | None) -> str:
    """The message for data type `value` of a sensor at `address` of `table` (None: it has no register);
    `one_register` is why only one register is there for it (the next is another sensor's, or it is the
    table's last), None when two fit."""
    said = f"must be one of {', '.join(repr(t) for t in WIDTH)}, got {value!r}"
    if value.lower() in WIDTH:
        return f"{said} (types are written in lower case: {value.lower()!r})"
    meaning, choices = MEANT.get(value.lower().strip(), (None, ()))
    if meaning is None:
        return f"{said}{did_you_mean(value, list(WIDTH))}; {WIDTHS}"
    if not choices:
        return f"{said}: {meaning} spans four registers, which the source does not read (a device may offer it as 'float32')"
    if address is None:
        return f"{said}: {meaning} is " + " or ".join(f"{c!r} ({WIDTH[c] * 16} bits: a PLC's {IEC[c]})"
                                                      for c in choices)
    fits = [c for c in choices if one_register is None or WIDTH[c] == 1]
    if not fits:
        return f"{said}: {meaning} is {choices[0]!r}, two registers, but {one_register}: check the register map"
    if len(fits) < len(choices):
        return f"{said}: {meaning} in one register is {fits[0]!r} (a PLC's {IEC[fits[0]]}): {one_register}"
    if len(fits) == 1:
        return f"{said}: {meaning} is {fits[0]!r}, {table} registers {address}..{address + 1} (a PLC's {IEC[fits[0]]})"
    one, two = fits
    return (f"{said}: {meaning} is {one!r} if it is {table} register {address} alone (a PLC's {IEC[one]}), {two!r} if "
            f"registers {address}..{address + 1} (a {IEC[two]})")


def scale_places(scale: float) -> int:
    """The decimals a scale is written with (0.01 → 2, 0.1 → 1, 10 → 0): the resolution of an integer register
    read at that scale. qa53: 3841 × 0.01 is 38.410000000000004 in binary floating point, and that noise reached
    recordings and alert evidence; rounded to the scale's places it is 38.41, the value the register holds."""
    exponent = Decimal(repr(float(scale))).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
