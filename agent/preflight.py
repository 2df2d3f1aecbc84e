"""What `run` needs from the machine, checked before anything starts (and by `check-config`).

A config can be well-formed and still unusable here: a replay file that is not there, a bundle
that is missing or built for other sensors, a secret whose environment variable is unset, a
state directory that cannot be written, a bind address this host does not have, a source whose
optional extra is not installed. Each is a config problem: reported with its key path, exit 2,
never a traceback or exit 1 from `run`, and never a silent fall-back (a missing bundle must not
quietly score with numpy).

`problems(cfg)` returns 'key.path: message' lines; empty when `run` can start.
"""
from __future__ import annotations

import errno
import importlib
import os
import socket
import tempfile
from pathlib import Path

from .records import shorten


def problems(cfg) -> list[str]:
    found: list[tuple[str, str]] = []
    found += _writable_dir("state_dir", cfg.resolve(cfg.state_dir))
    for i, src in enumerate(cfg.sources):
        found += [(f"sources[{i}]{'.' + key if key else ''}", msg) for key, msg in _source(src, cfg)]
    found += _scoring(cfg)
    for i, sink in enumerate(cfg.sinks):
        found += [(f"sinks[{i}]{'.' + key if key else ''}", msg) for key, msg in _sink(sink, cfg)]
    return [f"{path}: {shorten(msg, 300)}" for path, msg in found]


# ---- sources ---------------------------------------------------------------------------------

def _source(src, cfg) -> list[tuple[str, str]]:
    from .sources import MODULES
    try:
        importlib.import_module(MODULES[src.TYPE])
    except ImportError as exc:
        return [("type", f"source '{src.TYPE}' cannot be used here: {exc} "
                         f"(install the '{src.TYPE}' extra: pip install 'stad-edge[{src.TYPE}]')")]
    if src.TYPE == "replay":
        out = _exists("path", cfg.resolve(src.path)) if src.path else []
        if src.labels_file:
            out += _exists("labels_file", cfg.resolve(src.labels_file), want_file=True)
        return out
    if src.TYPE == "udp":
        return _bindable(src.bind, src.port)
    if src.TYPE == "mqtt":
        return [(f"broker.{key}", msg) for key, msg in _broker(src.broker, cfg)]
    return []


def _bindable(host: str, port: int) -> list[tuple[str, str]]:
    """Can this host bind `host:port`? A port in use is not reported: the running agent may hold it."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as exc:
        return [("bind", f"cannot resolve {host!r}: {exc.strerror or exc}")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(infos[0][4])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return []
            key = "port" if exc.errno == errno.EACCES else "bind"
            return [(key, f"cannot bind {host}:{port}: {exc.strerror or exc}")]
    return []


# ---- scoring ---------------------------------------------------------------------------------

def _scoring(cfg) -> list[tuple[str, str]]:
    from . import bundle as bundles
    out: list[tuple[str, str]] = []
    if cfg.scoring.bundle:
        try:
            bundles.load(cfg.scoring.bundle, cfg.base_dir, expect=bundles.Expectation.from_config(cfg))
        except bundles.BundleError as exc:
            out.append(("scoring.bundle", f"{exc} (the agent would only have the numpy fallback)"))
    if cfg.scoring.models_dir:
        # It may be created later (a bundle is delivered into it): only something else in its place is wrong.
        path = cfg.resolve(cfg.scoring.models_dir)
        if path.exists() and not path.is_dir():
            out.append(("scoring.models_dir", f"{path} is not a directory"))
    return out


# ---- sinks -----------------------------------------------------------------------------------

def _sink(sink, cfg) -> list[tuple[str, str]]:
    if sink.TYPE == "jsonl":
        path = cfg.resolve(sink.path)
        if path.is_dir():
            return [("path", f"{path} is a directory")]
        if path.exists() and not os.access(path, os.W_OK):
            return [("path", f"{path} is not writable")]
        return [("path", msg) for _, msg in _writable_dir("", path.parent)]
    if sink.TYPE == "mqtt":
        return [(f"broker.{key}", msg) for key, msg in _broker(sink.broker, cfg)]
    return []


def _broker(broker, cfg) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    secret = broker.password
    if secret is not None:
        if secret.env and os.environ.get(secret.env) is None:
            out.append(("password.env", f"environment variable {secret.env} is not set"))
        if secret.file:
            out += [("password.file", msg) for _, msg in _exists("", cfg.resolve(secret.file), want_file=True)]
        if secret.credential:
            out += [("password.credential", msg) for msg in _credential(secret.credential)]
    tls = broker.tls
    if tls is not None:
        for key in ("ca_file", "cert_file"):
            if getattr(tls, key):
                out += [(f"tls.{key}", msg) for _, msg in _exists("", cfg.resolve(getattr(tls, key)), want_file=True)]
        if tls.key_file:
            path = cfg.resolve(tls.key_file)
            # A path, else the name of a systemd credential (as mqtt_client reads it).
            if not path.is_file() and (os.sep in tls.key_file or _credential(tls.key_file)):
                out.append(("tls.key_file", f"{path} does not exist, and no credential of that name was found"))
    return out


# systemd's search path for LoadCredential=NAME (systemd.exec(5)), used when not running under it.
CREDSTORE_DIRS = ("/etc/credstore", "/run/credstore", "/usr/local/lib/credstore", "/usr/lib/credstore")


def _credential(name: str) -> list[str]:
    """Where systemd will find credential `name`: $CREDENTIALS_DIRECTORY under the service, else
    the credential stores LoadCredential= reads from (check-config run from a shell)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        return [] if (Path(directory) / name).is_file() else [f"credential {name!r} is not in {directory}"]
    if any((Path(d) / name).is_file() for d in CREDSTORE_DIRS):
        return []
    return [f"credential {name!r} is in none of {', '.join(CREDSTORE_DIRS)} ($CREDENTIALS_DIRECTORY is not set)"]


# ---- files -----------------------------------------------------------------------------------

def _exists(key: str, path: Path, want_file: bool = False) -> list[tuple[str, str]]:
    if not path.exists():
        return [(key, f"{path} does not exist")]
    if want_file and not path.is_file():
        return [(key, f"{path} is not a file")]
    if not os.access(path, os.R_OK):
        return [(key, f"{path} is not readable")]
    return []


def _writable_dir(key: str, path: Path) -> list[tuple[str, str]]:
    """`path` is a writable directory, or can be created: tried for real (a temporary directory
    made and removed in it or in its nearest existing parent), since permission bits do not tell
    root about a read-only file system."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        return [(key, f"{path} cannot be a directory: {probe} is not one")]
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".stad-check-", dir=probe))
    except OSError as exc:
        what = "is not writable" if probe == path else f"cannot be created in {probe}"
        return [(key, f"{path} {what}: {exc.strerror or exc}")]
    return []
