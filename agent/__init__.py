"""stad-edge agent: spatio-temporal anomaly detection on the gateway."""
__version__ = "0.1.0"


def no_runtime_telemetry() -> None:
    """onnxruntime (1.29 on) sends usage telemetry from Linux to Microsoft and keeps a device id and an
    event cache in ~/.cache unless ORT_DISABLE_TELEMETRY is set before it starts: neither the gateway's
    agent nor the workstation's converter may phone home from the operator's network or write outside
    their own directories. Both command lines call this first; an operator's own setting stays."""
    import os
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
