"""stad-edge agent: spatio-temporal anomaly detection on the gateway."""
__version__ = "0.1.0"
