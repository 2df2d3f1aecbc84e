"""Sensor faults, told apart from incidents.

A road or a machine with a problem moves several sensors together, and an incident spreads (a
queue grows upstream); a sensor with a problem disagrees with its neighbours while they agree
with each other, and stays alone. The rules here use that spatial structure plus the sensor's
own physics (range, floor, relations between flow, occupancy and speed) to judge sensors faulty:

- context.py     who a sensor should agree with, and what it normally looks like (learned)
- missing.py, stuck.py, dead.py, out_of_range.py, implausible.py, drift.py, spike.py: one rule each
- tracker.py     conditions → candidates → decided faults → `fault` / `fault_end` events; masking
- holdback.py    an alert whose only driver is a suspect sensor waits for the fault decision
- source.py      a source (device, server, broker, feed) that goes away: one `source` fault, not one `missing` per sensor
- events.py      the FaultEvent payload (schemas/fault.schema.json)
- config.py      the `faults:` keys (seconds)

Nothing here is imported by agent/config.py except config.py, so check-config stays light.
"""
