"""TLS files that exist but cannot be used (not PEM, a key of another certificate, a key without its
certificate) are config problems with their key path — `check-config` exit 2, `listen` exit 2
naming its option — not `run` refusing to start with OpenSSL's words and no key path, after
`check-config` said ok. Real certificates made with openssl; nothing reaches the network."""
from __future__ import annotations

import shutil

import pytest

from agent.cli import main
from conftest import tls_sink_config
from mqtt_broker import make_tls_files

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    one, other = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("other")
    return make_tls_files(one), make_tls_files(other)


def test_usable_tls_files_pass(tmp_path, pki, capsys):
    one, _ = pki
    path = tls_sink_config(tmp_path, {"ca_file": str(one.ca), "cert_file": str(one.cert), "key_file": str(one.key)})
    assert main(["check-config", "-c", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("case, key, said", [
    ("ca not pem", "tls.ca_file", "not a usable PEM CA certificate"),
    ("key of another certificate", "tls.key_file", "belong together"),
    ("certificate not pem", "tls.cert_file", "not a usable PEM certificate"),
    ("key without certificate", "tls.key_file", "without tls.cert_file"),
])
def test_unusable_tls_files_are_config_problems_with_their_key_path(tmp_path, pki, capsys, case, key, said):
    # On the old code check-config said ok and `run` exited with "cannot start: [X509: ...]".
    one, other = pki
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    tls = {"ca not pem": {"ca_file": str(junk)},
           "key of another certificate": {"ca_file": str(one.ca), "cert_file": str(one.cert), "key_file": str(other.key)},
           "certificate not pem": {"ca_file": str(one.ca), "cert_file": str(junk)},
           "key without certificate": {"ca_file": str(one.ca), "key_file": str(one.key)}}[case]
    path = tls_sink_config(tmp_path, tls)
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"sinks[0].broker.{key}: " in err and said in err and "Traceback" not in err, err


def test_listen_names_the_option_whose_file_it_cannot_use(tmp_path, caplog):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert main(["listen", "--host", "127.0.0.1", "--ca-file", str(junk), "--timeout", "1"]) == 2
    assert "--ca-file: " in caplog.text and "not a usable PEM CA certificate" in caplog.text
    assert main(["listen", "--host", "127.0.0.1", "--password-file", str(tmp_path / "absent"), "--timeout", "1"]) == 2
    assert "--password-file: " in caplog.text


def test_a_key_given_as_a_systemd_credential_is_checked_where_systemd_puts_it(tmp_path, pki, capsys, monkeypatch):
    one, other = pki
    creds = tmp_path / "creds"
    creds.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tls_sink_config(tmp_path, {"ca_file": str(one.ca), "cert_file": str(one.cert), "key_file": "stad.tls-key"})
    (creds / "stad.tls-key").write_bytes(one.key.read_bytes())
    assert main(["check-config", "-c", str(path)]) == 0, capsys.readouterr().err
    (creds / "stad.tls-key").write_bytes(other.key.read_bytes())
    assert main(["check-config", "-c", str(path)]) == 2
    assert "sinks[0].broker.tls.key_file: " in capsys.readouterr().err
