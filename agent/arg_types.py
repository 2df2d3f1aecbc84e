"""Argument types the commands share (argparse `type=`), so that one rule is written once.

Why: `listen --count/--timeout` and `simulate --days` each had their own "positive number", and they
disagreed on infinity: `simulate --days inf` was refused, `listen --timeout inf` taken (a timeout
that never comes: the flag left out says that). A count or a span of time given on the command line
is a finite number above 0; NaN and infinity are refused with the flag's value in argparse's words.
"""
from __future__ import annotations

import math
from typing import Callable


def positive(kind: type = float) -> Callable[[str], float]:
    """An argparse `type` reading a `kind` (int or float) that is finite and above 0; argparse says
    `invalid positive float value: 'inf'` (exit 2) for any other."""
    def parse(text: str):
        value = kind(text)          # ValueError on no number: argparse's message
        if not (math.isfinite(value) and value > 0):        # NaN too
            raise ValueError(value)
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


__all__ = ["positive"]
