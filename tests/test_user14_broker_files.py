"""docs/operations.md's broker files block: which files the `mosquitto` user must read, with which owner and modes.

user13 followed README's TLS recipe as root and Mosquitto stopped at once (`Unable to load server key file …
Permission denied`): it drops to the `mosquitto` user before reading the key and the password file, which the
recipe leaves root's. README's recipe is run as it stands (broker.example read as localhost), then the doc's
`mosquitto-files` block (its /etc/mosquitto a temporary directory the mosquitto user may traverse, as
/etc/mosquitto is), and a real Mosquitto is started as root with the doc's `mosquitto-conf` lines (its port a
free one): it must read every file and admit the recipe's user. The control — the same files copied as made —
must fail the way user13 saw, or the block would prove nothing."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mqtt_broker import MOSQUITTO, TlsFiles, make_broker, start_fresh  # noqa: F401 — make_broker: the fixture
from tls_recipe import connects, recipe

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def _mosquitto_user() -> bool:
    try:
        pwd.getpwnam("mosquitto")
        return True
    except KeyError:
        return False


pytestmark = [pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
              pytest.mark.skipif(MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
                                 reason="mosquitto / mosquitto_passwd are not installed"),
              pytest.mark.skipif(os.geteuid() != 0 or not _mosquitto_user() or shutil.which("runuser") is None,
                                 reason="needs root, a mosquitto user and runuser: the block is the broker host's root's")]


def block(marker: str, kind: str = "sh") -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    m = re.search(rf"<!-- {marker}[^>]*-->\s*```{kind}\n(.*?)```", text, re.S)
    assert m, f"docs/operations.md has no {marker} block"
    return m.group(1)


@pytest.fixture
def made(tmp_path):
    """README's recipe run in a directory of its own: ca.crt, broker.crt, broker.key, passwd, the password."""
    subprocess.run(["bash", "-euo", "pipefail", "-c", recipe().replace("broker.example", "localhost")],
                   cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


@pytest.fixture
def etc():
    """A stand-in for /etc/mosquitto: root's, 0755, under a directory the mosquitto user may traverse."""
    top = Path(tempfile.mkdtemp(prefix="stad-broker-files-"))
    top.chmod(0o755)
    (top / "mosquitto").mkdir(mode=0o755)
    yield top / "mosquitto"
    shutil.rmtree(top, ignore_errors=True)


def start_with_doc_conf(broker, etc: Path) -> None:
    """The doc's conf lines (its paths under `etc`, its listener on the test's port), written as the broker's."""
    lines = block("mosquitto-conf", "").replace("/etc/mosquitto", str(etc)).splitlines()
    conf = {line.split()[0]: line.split(None, 1)[1] for line in lines if line.strip()}
    assert conf["listener"] == "8883" and conf["allow_anonymous"] == "false", conf
    broker.tls = TlsFiles(ca=Path(conf["cafile"]), cert=Path(conf["certfile"]), key=Path(conf["keyfile"]))
    broker.password_file = Path(conf["password_file"])
    start_fresh(broker)


def test_the_doc_s_owner_and_modes_let_mosquitto_read_its_files(made, etc, make_broker):
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block("mosquitto-files").replace("/etc/mosquitto", str(etc))],
                          cwd=made, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "mosquitto can read them" in done.stdout
    for name in ("broker.key", "passwd"):
        st = (etc / "stad" / name).stat()
        assert st.st_mode & 0o007 == 0, f"{name} is readable by every user"
    broker = make_broker(start=False)       # its own directory (log, persistence); the files stay root's
    start_with_doc_conf(broker, etc)
    password = (made / "gateway-01.password").read_text().strip()
    assert connects(broker.port, made / "ca.crt", "gateway-01", password) == 0
    assert connects(broker.port, made / "ca.crt", "gateway-01", password + "x") != 0


def test_without_them_mosquitto_stops_as_user13_saw(made, etc, make_broker):
    (etc / "stad").mkdir()
    for name in ("ca.crt", "broker.crt", "broker.key", "passwd"):
        shutil.copy2(made / name, etc / "stad" / name)           # as the recipe made them: root's
    broker = make_broker(start=False)
    # the password file first when the recipe ran under umask 077 (it is 0600 root then too), else the key
    with pytest.raises(RuntimeError, match="(?s)Unable to load server key file.*Permission denied|Unable to open pwfile"):
        start_with_doc_conf(broker, etc)
