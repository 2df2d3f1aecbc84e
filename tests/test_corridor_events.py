"""The corridor's headline counts incidents and sensor faults apart (corridor7, issue 10).

On the registered schedule the table of every labelled event credited the fallback with a sixth
"event" of 32: its alert during the drift of S05_flow, a sensor fault, which issue 13 says must not be
reported as an incident. The bench now prints the faults-apart table first, and the all-events table
second, labelled as a comparison. Runs the real simulator (3 days) through the numpy fallback."""
import bench.accuracy as acc


def test_the_corridor_headline_is_incidents_apart_and_the_event_table_is_labelled(capsys):
    report = acc.run_corridor(["numpy"], None, None)
    out = capsys.readouterr().out
    headline = out.index("incidents and sensor faults apart (the headline")
    every = out.index("every labelled event, sensor faults included (for comparison only")
    assert headline < every
    (s,) = report["scorers"]
    i, ev = s["incidents_and_faults"]["incidents"], s["events"]
    row = next(line for line in out[headline:every].splitlines() if line.startswith("numpy "))
    assert row.split()[1] == f"{i['detected']}/{i['events']}"
    assert int(row.split()[3]) == i["false_alarms"]
    row = next(line for line in out[every:].splitlines() if line.startswith("numpy "))
    assert row.split()[1] == f"{ev['events_detected']}/{ev['events_total']}"
    # the all-events table holds every injected fault as an event; the headline only the incidents
    faults = sum(k["injected"] for k in s["incidents_and_faults"]["faults"]["by_kind"].values())
    assert faults > 0 and ev["events_total"] == i["events"] + faults
