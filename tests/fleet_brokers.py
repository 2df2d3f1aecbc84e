"""The fleet's brokers from configs/mosquitto/ as shipped, on loopback, for the bridge tests.

A central broker (central.conf + fleet.acl: TLS, client certificates, the certificate's CN as the
user name) and one site broker per site (gateway-bridge.conf, its plant-a replaced by the site),
bridged to the centre with the site's certificate. Only deployment values are replaced (addresses,
paths, the back-off cap); `shipped` fails when the file no longer holds one, so the tests follow
the files a deployment copies.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mqtt_broker import Mosquitto, free_port, make_tls_files, _hand_to_mosquitto_user, TlsFiles
from conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "mosquitto"


@dataclass
class ShippedMosquitto(Mosquitto):
    """A Mosquitto started from a shipped config with its deployment values replaced by the test's."""
    text: str = ""

    def write_config(self) -> None:
        self.conf.write_text(self.text + f"\nlog_dest file {self.log_file}\nlog_type information\n")


def shipped(name: str, replace: dict[str, str]) -> str:
    """The shipped file with each deployment value replaced; each must be there (the test follows the file)."""
    text = (CONFIGS / name).read_text()
    for old, new in replace.items():
        assert old in text, f"{name} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def client_cert(ca_dir: Path, out_dir: Path, cn: str) -> tuple[Path, Path]:
    key, csr, cert = out_dir / f"{cn}.key", out_dir / f"{cn}.csr", out_dir / f"{cn}.crt"
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_dir / "ca.crt"), "-CAkey", str(ca_dir / "ca.key"),
        "-CAcreateserial", "-days", "2", "-out", str(cert))
    return cert, key


@dataclass
class Fleet:
    """The brokers (not started) and the certificates of the centre's clients (CN viewer, operator)."""
    central: ShippedMosquitto
    sites: dict[str, ShippedMosquitto]
    tls: TlsFiles
    certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    @property
    def brokers(self) -> list[ShippedMosquitto]:
        return [self.central, *self.sites.values()]

    def start(self) -> None:
        for broker in self.brokers:
            broker.start()

    def wait_bridged(self, timeout: float = 30.0) -> None:
        """Every site's bridge has connected to the centre."""
        for site, broker in self.sites.items():
            assert wait_until(lambda: "Connecting bridge" in broker.log_text()
                              and f"as bridge-site-{site}" in self.central.log_text(), timeout), broker.log_text()

    def kill_central_after_a_save(self, timeout: float = 60.0) -> None:
        """SIGKILL the central broker once nothing it acknowledged lives in its memory only.

        Mosquitto sends a bridge its PUBACK before it saves the message (every `autosave_interval`),
        so a SIGKILL in between loses it: the documented limit (README "From gateway to centre"),
        not ours to test. Here the site brokers are stopped first (SIGSTOP: their bridges send
        nothing more; what they sent is on the central's sockets), then the central saves twice:
        the first save may come before it has read the last of it, the second comes after (it
        reads every socket with data before each save, 2 s apart). Then the SIGKILL, and the sites
        go on: their queues hold what the central never acknowledged."""
        for broker in self.sites.values():
            broker.pause()
        try:
            assert wait_until(lambda: all(b.paused() for b in self.sites.values()), timeout), \
                "the site brokers did not stop"
            saved = self.central.saves()
            assert wait_until(lambda: self.central.saves() >= saved + 2, timeout), self.central.log_text()[-2000:]
            self.central.kill()
        finally:
            for broker in self.sites.values():
                broker.resume()

    def kill(self) -> None:
        for broker in self.brokers:
            broker.kill()


def make_fleet(sites: tuple[str, ...], clients: tuple[str, ...] = ("viewer", "operator")) -> Fleet:
    pki = Path(tempfile.mkdtemp(prefix="stad-fleet-pki-"))
    tls = make_tls_files(pki)           # the fleet CA and the central broker's certificate (SAN 127.0.0.1)
    central_dir = Path(tempfile.mkdtemp(prefix="stad-central-"))
    central_port = free_port()
    for f in (tls.ca, tls.cert, tls.key):
        (central_dir / f.name).write_bytes(f.read_bytes())
    (central_dir / "fleet.acl").write_text((CONFIGS / "fleet.acl").read_text())
    central = ShippedMosquitto(dir=central_dir, port=central_port, text=shipped("central.conf", {
        "listener 8883": f"listener {central_port} 127.0.0.1",
        "/etc/mosquitto/certs/fleet-ca.crt": str(central_dir / "ca.crt"),
        "/etc/mosquitto/certs/central.crt": str(central_dir / "server.crt"),
        "/etc/mosquitto/certs/central.key": str(central_dir / "server.key"),
        "/etc/mosquitto/fleet.acl": str(central_dir / "fleet.acl"),
        "/var/lib/mosquitto/": f"{central_dir}/",
        "log_dest syslog": ""}))
    site_brokers = {}
    for site in sites:
        d = Path(tempfile.mkdtemp(prefix=f"stad-{site}-"))
        cert, key = client_cert(pki, d, f"site-{site}")
        (d / "ca.crt").write_bytes(tls.ca.read_bytes())
        port = free_port()
        text = shipped("gateway-bridge.conf", {
            "listener 1883 127.0.0.1": f"listener {port} 127.0.0.1",
            "address central.example.net:8883": f"address 127.0.0.1:{central_port}",
            "/etc/mosquitto/certs/fleet-ca.crt": str(d / "ca.crt"),
            "/etc/mosquitto/certs/gateway.crt": str(cert),
            "/etc/mosquitto/certs/gateway.key": str(key),
            "/var/lib/mosquitto/": f"{d}/",
            "restart_timeout 2 60": "restart_timeout 1 5",     # the test waits for the reconnect
            "log_dest syslog": ""}).replace("plant-a", site)
        site_brokers[site] = ShippedMosquitto(dir=d, port=port, text=text)
    certs = {cn: client_cert(pki, pki, cn) for cn in clients}
    _hand_to_mosquitto_user(pki)
    return Fleet(central=central, sites=site_brokers, tls=tls, certs=certs)
