"""What this host lets the agent do, asked before `run` starts (agent/preflight.py, and each source's and sink's
`preflight(resolve)`): reach and read a file, write a directory or append to a file, bind a port, find a systemd
credential — each answered by trying it as the agent will (a directory made and removed, a socket bound), since
permission bits do not tell root about a read-only file system, nor a shell what the service's unit hides.

Why a module of its own: these are questions about the machine, not about a config, and every plugin asks some
of them; agent/preflight.py is the core's checks of a config (its warm-up recording, its scoring, its state
directory) and asks them too. A message that is a `Note` is no problem but something this shell cannot check
(a key only the service's user may read, a port in use now): check-config prints it apart, so that an "ok"
never hides a file nobody looked at.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from .paths import staged


class Note(str):
    """A preflight message that is no problem: what could not be checked from this shell, and why, or a setting
    that runs but not as it reads (agent/preflight.py)."""


class ReadOnlyFs(str):
    """A preflight problem that is the host's, not the config's: the state directory is on a file system mounted
    read-only (an SD card's ext4 remounted read-only on errors). `run` starts degraded on it (review42,
    agent/read_only_state.py): exit 2, a config mistake, left the gateway down until someone came."""


def path_problems(path: Path, want_file: bool = False) -> list[str]:
    """`path` exists and is readable (and is a file, with `want_file`). A directory on the way that
    this process may not search is said so (Path.exists() raises there rather than answering)."""
    try:
        path.stat()
    except PermissionError:
        return [f"{path} cannot be reached by uid {os.geteuid()}: a directory on the way is closed to it "
                "(check-config: run it as root or as the service's user)"]
    except OSError:
        pass
    if not path.exists():
        return [f"{path} does not exist{unit_hides(path)}"]
    if want_file and not path.is_file():
        return [f"{path} is not a file"]
    if not path.is_file() and not path.is_dir():
        return [f"{path} is {special_kind(path)}, not a file or a directory"]
    if not os.access(path, os.R_OK):
        return [f"{path} is not readable"]
    return []


def special_kind(path: Path) -> str:
    """What a path that is neither a file nor a directory is, for a message: a FIFO, a socket, a device.
    A FIFO given as a recording passed check-config, and `run` then said it "does not exist" (chaos3)."""
    import stat
    mode = path.stat().st_mode
    return ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "no regular file")


#: What the shipped unit (systemd/stad-agent.service) hides from the service: ProtectHome=yes (/home, /root,
#: /run/user) and PrivateTmp=yes (its own empty /tmp and /var/tmp).
UNIT_HIDDEN = ("/home", "/root", "/run/user", "/tmp", "/var/tmp")


def unit_hides(path: Path) -> str:
    """Under a systemd notify service ($INVOCATION_ID and $NOTIFY_SOCKET, as the shipped unit's `run` has them;
    not a shell, nor a test run under systemd-run), for a path the unit hides: why the service does not see
    what a shell does (user11: a bundle and recordings left where `stad-convert train` wrote them, in /home or
    /tmp, passed check-config from the shell and were "not there" for the service); else ''."""
    if not (os.environ.get("INVOCATION_ID") and os.environ.get("NOTIFY_SOCKET")):
        return ""
    text = str(path)
    if not any(text == top or text.startswith(top + "/") for top in UNIT_HIDDEN):
        return ""
    return (" for this service: the shipped unit hides /home, /root (ProtectHome) and /tmp (PrivateTmp) from it; "
            "keep what it reads in /etc/stad-edge or /var/lib/stad-edge")


def _probe_mkdir(parent: Path) -> None:
    """Make and remove a directory in `parent` (not tempfile: it imports shutil, random and
    compression modules the agent otherwise never loads)."""
    for attempt in range(100):
        probe = parent / f".stad-check-{os.getpid()}-{attempt}"
        try:
            os.mkdir(probe, 0o700)
        except FileExistsError:
            continue
        os.rmdir(probe)
        return
    raise FileExistsError(errno.EEXIST, "no free probe name", str(parent))


def writable_dir_problems(path: Path) -> list[str]:
    """`path` is a writable directory, or can be created: tried for real (a temporary directory
    made and removed in it or in its nearest existing parent), since permission bits do not tell
    root about a read-only file system."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        return [f"{path} cannot be a directory: {probe} is not one"]
    try:
        _probe_mkdir(probe)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return [ReadOnlyFs(f"{path} is on a read-only file system ({probe}): a disk remounted read-only (`run` "
                               "starts degraded), or a directory the unit's ProtectSystem=strict keeps read-only "
                               "(give it ReadWritePaths= in a drop-in)")]
        what = "is not writable" if probe == path else f"cannot be created in {probe}"
        return [f"{path} {what}: {exc.strerror or exc}"]
    return []


def writable_file_problems(path: Path) -> list[str]:
    """A file the agent appends to: writable if it exists, else its directory writable or creatable."""
    if path.is_dir():
        return [f"{path} is a directory"]
    if path.is_socket():
        return [f"{path} is {special_kind(path)}, not a file: the agent appends to and reads back its file"]
    if path.is_fifo():      # a FIFO's open blocked `run` until a reader came (chaos3); one with a reader is a pipe
        return fifo_without_reader(path)                # to a consumer (tests/test_systemd.py's blocked writer)
    if path.exists() and not os.access(path, os.W_OK):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return [ReadOnlyFs(f"{path} is on a read-only file system: a disk remounted read-only (`run` starts "
                               "degraded), or a directory the unit's ProtectSystem=strict keeps read-only (give it "
                               "ReadWritePaths= in a drop-in)")]
        return [f"{path} is not writable"]
    return writable_dir_problems(path.parent)


def fifo_without_reader(path: Path) -> list[str]:
    """A FIFO (named pipe) the agent would write to: a problem only while nothing reads it — `run` would wait in
    its open() for a reader, before its banner and READY, until systemd's start timeout."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return [f"{path} is a FIFO (named pipe) that nothing reads now: run would wait for a reader before it "
                    "starts — start the reader first, or give a file"]
        return [f"{path}: {e.strerror}"]
    os.close(fd)
    return []


def memory_bytes() -> int | None:
    """This host's memory and swap, in bytes: the most an allocation may ask before Linux refuses it (its default
    overcommit heuristic refuses one past them); None where that cannot be told."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            swap = next((int(line.split()[1]) * 1024 for line in f if line.startswith("SwapTotal:")), 0)
    except (OSError, ValueError, IndexError):
        swap = 0
    return memory + swap


def resolved_ipv4(host: str) -> str:
    """The IPv4 address this host binds for `host` (as the UDP source does); the wildcard, and a
    name that does not resolve (bind_problems says so), as written."""
    from .config_clashes import WILDCARD_ADDRESSES
    if host in WILDCARD_ADDRESSES:
        return host
    import socket
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except OSError:
        return host


def bind_problems(host: str, port: int, tcp: bool = False) -> list[tuple[str, str]]:
    """Can this host bind `host:port` (UDP; TCP with `tcp`, as a server that reuses addresses)? A port
    in use is a Note, not a problem: the running agent may hold it, but `run` cannot start while
    anything else does."""
    import socket       # here: only a config with a udp source or metrics asks
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, kind)
    except OSError as exc:
        return [("bind", f"cannot resolve {host!r}: {exc.strerror or exc}")]
    with socket.socket(socket.AF_INET, kind) as probe:
        if tcp:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(infos[0][4])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return [("port", Note(f"{host}:{port} ({'tcp' if tcp else 'udp'}) is in use now: run cannot "
                                      "start while it is (unless it is this agent's own, still running)"))]
            key = "port" if exc.errno == errno.EACCES else "bind"
            return [(key, f"cannot bind {host}:{port}: {exc.strerror or exc}")]
    return []


# systemd's search path for LoadCredential=NAME (systemd.exec(5)), used when not running under it.
CREDSTORE_DIRS = ("/etc/credstore", "/run/credstore", "/usr/local/lib/credstore", "/usr/lib/credstore")


def find_credential(name: str) -> tuple[Path | None, list[str]]:
    """Where systemd takes credential `name` from: `$CREDENTIALS_DIRECTORY/name` under a unit, else the first
    credential store LoadCredential= searches (`CREDSTORE_DIRS`) holding it; None when none does. Beside it,
    the directories searched that this user may not look into (/etc/credstore is 0700 root): not found there
    is not known, not absent. One search for check-config (`credential_problems`) and listen
    (agent/listen_config.py), which read the same stores."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    closed = []
    for d in [directory] if directory else credstores():
        found = _is_file(Path(d) / name)
        if found:
            return Path(d) / name, closed
        if found is None:
            closed.append(d)
    return None, closed


def credential_problems(name: str) -> list[str]:
    """Where systemd will find credential `name`: $CREDENTIALS_DIRECTORY under the service, else
    the credential stores LoadCredential= reads from (check-config run from a shell). A store this
    shell may not look into (/etc/credstore is 0700 root: check-config run by another user) is a
    Note naming it, not a problem — and never a PermissionError traceback."""
    found, closed = find_credential(name)
    if found is not None:
        return []
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        return [f"credential {name!r} is not in {directory}"]
    if closed:
        return [Note(f"credential {name!r}: {', '.join(closed)} cannot be searched by this shell (uid "
                     f"{os.geteuid()}); run check-config as root to check it")]
    return [f"credential {name!r} is in none of {', '.join(credstores())} ($CREDENTIALS_DIRECTORY is not set)"]


def credstores() -> list[str]:
    """CREDSTORE_DIRS, under check-config's --root when it reads a staged install (agent/paths.py `staged`)."""
    return [str(staged(Path(d))) for d in CREDSTORE_DIRS]


def _is_file(path: Path) -> bool | None:
    """Whether `path` is a file; None when this process may not look (a directory it cannot search)."""
    try:
        return path.is_file()
    except PermissionError:
        return None
