"""The two-sensor pump (flow, current) on stdin with a warm-up recording: user14's scenario of a plant running
elsewhere than its warm-up's normal, shared by user36's register-map typo (one scenario, two claims)."""
from __future__ import annotations

T0 = 1796480000

CONFIG = """node: {id: n1, site: s1}
tick_s: 1
state_dir: state
sensors:
  - {name: flow, group: g}
  - {name: current, group: g}
sources:
  - {type: stdin}
window: {steps: 16, max_clock_skew_s: 0}
warmup: {ticks: 100, replay: hist.csv}
sinks:
  - type: terminal
"""
