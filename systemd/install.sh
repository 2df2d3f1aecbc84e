#!/bin/sh
# Install (or remove) the stad-edge agent as a systemd service on a Debian/Ubuntu gateway.
#
#   sudo systemd/install.sh [options]            install or upgrade; safe to run again
#   sudo systemd/install.sh --uninstall          remove everything but the state (/var/lib/stad-edge)
#
# What goes where (all below --root, default /):
#   /opt/stad-edge/venv/                  a virtualenv with stad-edge[onnx,tflite] (no torch)
#   /opt/stad-edge/pycache/               the bytecode of what the agent imports, for the unit's python -OO
#   /etc/systemd/system/stad-agent.service
#   /etc/stad-edge/agent.yaml             from --config, only when there is none yet
#   /etc/credstore/stad-edge.mqtt-password, /etc/credstore/stad-edge.tls-key   mode 0600
#
# Options:
#   --root DIR                 install below DIR (a staging or test root); never touches systemctl
#   --config FILE              the agent config to install (default: configs/roadside.yaml)
#   --mqtt-password-file FILE  the MQTT password, stored as credential stad-edge.mqtt-password
#   --tls-key-file FILE        the MQTT client TLS key, stored as credential stad-edge.tls-key
#   --source DIR|SPEC          what pip installs (default: this checkout); a wheel path works too
#   --extras LIST              pip extras (default: onnx,tflite; "" for none: the numpy scorer only)
#   --python PY                the interpreter for the venv (default: python3; it must not live under
#                              /root or /home, which the service cannot see: e.g. /usr/bin/python3).
#                              A venv made for another major.minor (apt upgraded python3 3.11 -> 3.13) or whose
#                              python no longer starts is rebuilt from scratch beside the old one, then swapped
#                              in; a patch-level change (3.11.2 -> 3.11.4) keeps it
#   --pip-args "ARGS"          extra pip arguments, e.g. "--no-index --find-links /media/wheels"
#   --venv-args "ARGS"         extra `python -m venv` arguments, e.g. "--system-site-packages"
#   --no-venv                  install the files only (unit, config, credentials), no virtualenv
#   --no-start                 do not enable/start the service
#   --uninstall                stop, disable and remove; the state directory is kept
#   -h, --help
set -eu

PROG=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(dirname "$HERE")

ROOT=""
CONFIG="$CHECKOUT/configs/roadside.yaml"
MQTT_PASSWORD_FILE=""
TLS_KEY_FILE=""
SOURCE="$CHECKOUT"
EXTRAS="onnx,tflite"
PYTHON=python3
PIP_ARGS=""
VENV_ARGS=""
NO_VENV=0
NO_START=0
UNINSTALL=0

# What the unit's program can import, compiled at the interpreter's optimization level into its PYTHONPYCACHEPREFIX;
# not the rest of its sys.path (the venv's pip and setuptools, the standard library's tkinter, idlelib, lib2to3 ...).
# Found by importing here what the program may import: every module of the packages its script (argv[1]: the unit's
# ExecStart) imports (the agent, whose plugins it imports by name), the installed distributions their distribution
# requires (onnxruntime, ai-edge-litert: the agent imports them by a computed name, when a config needs them) and
# every top-level module the agent's source imports anywhere (paho, sqlite3); the interpreter's start (site, encodings,
# a .pth's) is in too. Compiled: each module imported, and the rest of the directory of each imported module of a
# package (not its subdirectories): what a package imports lazily of itself, encodings' codecs. A module a library
# imports lazily that nothing here imported compiles in memory when the agent first imports it, as without this.
# PYTHONPATH's directories are left out: the unit sets none. Without force: a .pyc already there whose header holds its
# source's mtime is kept. Every other .pyc under the prefix (a module gone or no longer imported, another interpreter's
# cache tag) is removed: the prefix holds what one compile from scratch would write.
COMPILE_CLOSURE='import os, sys
sys.path[:] = [d for d in sys.path if d and d not in os.environ.get("PYTHONPATH", "").split(os.pathsep)]
sys.dont_write_bytecode = False
import compileall, importlib, importlib.metadata, importlib.util, pkgutil, re
IMPORTS = re.compile(rb"(?m)^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([\w. \t,]+))")
LITERAL = re.compile(rb"(?:import_module|__import__)\([ \t]*[\x27\x22]([A-Za-z_]\w*)")
SKIP = {"test", "tests", "__pycache__", "site-packages", "dist-packages"}

def read(file):
    try:
        with open(file, "rb") as f:
            return f.read()
    except OSError:
        return b""

def source(name):
    file = getattr(sys.modules.get(name), "__file__", None)
    return read(file) if isinstance(file, str) and file.endswith(".py") else b""

def named(text):
    found = {m[1] or m[2] for m in IMPORTS.finditer(text)} | set(LITERAL.findall(text))
    return {word.partition(b".")[0].decode() for item in found for words in [w.split() for w in item.split(b",")]
            for word in words[:1]}

def try_import(name):
    try:
        return importlib.import_module(name)
    except BaseException:
        return None

def required_by(units):
    top = importlib.metadata.packages_distributions()
    found = set()
    for dist in {d for u in units for d in top.get(u, ())}:
        for req in importlib.metadata.requires(dist) or ():
            try:
                got = importlib.metadata.distribution(re.match(r"[A-Za-z0-9._-]+", req)[0]).metadata["Name"]
            except importlib.metadata.PackageNotFoundError:
                continue
            found |= {u for u, ds in top.items() if got in ds}
    return found

script = named(read(sys.argv[1])) if len(sys.argv) > 1 else set()
for unit in script:
    module = try_import(unit)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), unit + "."):
        if not info.name.endswith(".__main__"):
            try_import(info.name)
lazy = set().union(*[named(source(n)) for n in list(sys.modules) if n.partition(".")[0] in script])
for unit in sorted(required_by(script) | lazy):
    try_import(unit)
imported = [m for m in list(sys.modules.values()) if isinstance(m, type(sys))]
places = set()
for module in imported:
    file = getattr(module, "__file__", None)
    if getattr(module, "__path__", None) is not None:
        places |= set(module.__path__)
    elif "." in module.__name__ and isinstance(file, str):
        places.add(os.path.dirname(file))
    elif isinstance(file, str):
        places.add(file)
keep, ok = set(), True
for place in sorted(p for p in places if isinstance(p, str) and os.path.basename(p) not in SKIP):
    for file in [os.path.join(place, n) for n in os.listdir(place)] if os.path.isdir(place) else [place]:
        if file.endswith(".py") and os.path.isfile(file):
            ok &= bool(compileall.compile_file(file, quiet=1))
            keep.add(importlib.util.cache_from_source(file))
for here, dirs, names in os.walk(sys.pycache_prefix):
    for name in names:
        if name.endswith(".pyc") and os.path.join(here, name) not in keep:
            os.unlink(os.path.join(here, name))
sys.exit(0 if ok else 1)'

# What the prefix's bytecode was compiled by, written into it as .interpreter: the interpreter's build (sys.version
# holds its patch level and build date), its cache tag and magic, where it is, and the path that was compiled. A
# prefix whose .interpreter differs (or is missing) is not reused. Run as python -OO: the optimization level too.
INTERPRETER_ID='import importlib.util, os, sys
print(sys.version.replace("\n", " "), sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex(),
      os.path.realpath(sys.executable), sys.base_prefix, sys.flags.optimize, sep="\n")
print(*[d for d in sys.path if d], sep="\n")'

# A venv is not relocatable: pip's scripts (the unit's ExecStart is bin/stad-agent), the activate scripts and
# pyvenv.cfg name the directory it was made in. A venv built in $VENV.new has that name rewritten to $VENV in those
# files before it is moved there. The .pyc need nothing: their file names are fixed up from where they are imported.
RENAME_VENV='import os, sys
build, final = sys.argv[1], sys.argv[2]
old, new = os.fsencode(build), os.fsencode(final)
bindir = os.path.join(build, "bin")
files = [os.path.join(bindir, n) for n in os.listdir(bindir)] + [os.path.join(build, "pyvenv.cfg")]
for path in files:
    if os.path.islink(path) or not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        data = f.read()
    if old in data:
        with open(path, "wb") as f:
            f.write(data.replace(old, new))'

# Exit 0 when the venv's installed distribution of the wheel argv[1] holds the files the wheel's RECORD lists, with
# the same hashes (its installed RECORD, as pip wrote it); 1 when it is another build, or not installed, or the
# wheel cannot be read. A file edited in the venv since does not count: the RECORDs are compared, not the files.
# The working directory is left off the path: run from a checkout where `pip install -e .` left stad_edge.egg-info,
# `python -c` found that one first (no RECORD) and every re-run installed over the venv (ci88).
SAME_RELEASE='import csv, io, sys, zipfile
sys.path[:] = [d for d in sys.path if d]
from importlib import metadata
def listed(text):
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) > 1 and row[1]}
with zipfile.ZipFile(sys.argv[1]) as z:
    [record] = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
    wanted = {p: h for p, h in listed(z.read(record).decode()).items() if ".data/" not in p}
installed = listed(metadata.distribution(record.split("-")[0]).read_text("RECORD") or "")
sys.exit(0 if wanted and all(installed.get(p) == h for p, h in wanted.items()) else 1)'

# Exit 0 when the venv holds a stad-edge distribution (not the working directory's egg-info, as SAME_RELEASE).
INSTALLED='import sys
sys.path[:] = [d for d in sys.path if d]
from importlib import metadata
metadata.distribution("stad-edge")'

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

need_arg() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --root) need_arg "$@"; ROOT=$2; shift 2 ;;
        --config) need_arg "$@"; CONFIG=$2; shift 2 ;;
        --mqtt-password-file) need_arg "$@"; MQTT_PASSWORD_FILE=$2; shift 2 ;;
        --tls-key-file) need_arg "$@"; TLS_KEY_FILE=$2; shift 2 ;;
        --source) need_arg "$@"; SOURCE=$2; shift 2 ;;
        --extras) need_arg "$@"; EXTRAS=$2; shift 2 ;;
        --python) need_arg "$@"; PYTHON=$2; shift 2 ;;
        --pip-args) need_arg "$@"; PIP_ARGS=$2; shift 2 ;;
        --venv-args) need_arg "$@"; VENV_ARGS=$2; shift 2 ;;
        --no-venv) NO_VENV=1; shift ;;
        --no-start) NO_START=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" = / ] && ROOT=""
fi

OPT_DIR="$ROOT/opt/stad-edge"
VENV="$OPT_DIR/venv"
PYCACHE="$OPT_DIR/pycache"
UNIT_DIR="$ROOT/etc/systemd/system"
UNIT="$UNIT_DIR/stad-agent.service"
CONF_DIR="$ROOT/etc/stad-edge"
CRED_DIR="$ROOT/etc/credstore"
STATE_DIR="$ROOT/var/lib/stad-edge"
CRED_PASSWORD="$CRED_DIR/stad-edge.mqtt-password"
CRED_TLS_KEY="$CRED_DIR/stad-edge.tls-key"

# systemctl only for the real root of a machine that runs systemd.
live_systemd() { [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    die "installing into / needs root (or use --root DIR)"
fi

# ---- uninstall -----------------------------------------------------------------------------

if [ "$UNINSTALL" -eq 1 ]; then
    if live_systemd; then
        systemctl disable --now stad-agent.service 2>/dev/null || true
    fi
    rm -f "$UNIT"
    rm -rf "$OPT_DIR"
    rm -f "$CONF_DIR/agent.yaml"
    rmdir "$CONF_DIR" 2>/dev/null || true
    rm -f "$CRED_PASSWORD" "$CRED_TLS_KEY"
    rmdir "$CRED_DIR" 2>/dev/null || true
    if live_systemd; then
        systemctl daemon-reload
        systemctl reset-failed stad-agent.service 2>/dev/null || true
    fi
    if [ -d "$STATE_DIR" ]; then
        say "removed; the state in ${STATE_DIR} was kept (delete it by hand if it is not wanted)"
    else
        say "removed; there was no state directory (${STATE_DIR})"
    fi
    exit 0
fi

# ---- install -------------------------------------------------------------------------------

[ -f "$HERE/stad-agent.service" ] || die "cannot find $HERE/stad-agent.service"
[ -f "$CONFIG" ] || die "config $CONFIG does not exist"
[ -z "$MQTT_PASSWORD_FILE" ] || [ -f "$MQTT_PASSWORD_FILE" ] || die "$MQTT_PASSWORD_FILE does not exist"
[ -z "$TLS_KEY_FILE" ] || [ -f "$TLS_KEY_FILE" ] || die "$TLS_KEY_FILE does not exist"

umask 022
VENV_OK=1

if [ "$NO_VENV" -eq 0 ]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (apt-get install python3 python3-venv)"
    PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) \
        || die "$PYTHON does not start: $("$PYTHON" -c '' 2>&1 | tail -n 1)"
    PY_MINOR=${PY_VERSION%.*}
    # pyproject's requires-python (its ">=X.Y" form) checked before anything is made: pip would refuse only after
    # the venv was built. A wheel or a spec as --source is checked by pip itself.
    if [ -d "$SOURCE" ] && [ -f "$SOURCE/pyproject.toml" ]; then
        NEEDS=$(sed -n 's/^requires-python *= *"> *= *\([0-9][0-9]*\.[0-9][0-9]*\)".*/\1/p' "$SOURCE/pyproject.toml" | head -n 1)
        if [ -n "$NEEDS" ] && ! "$PYTHON" -c "import sys; sys.exit(sys.version_info[:2] < ($(echo "$NEEDS" | tr . ,)))"; then
            die "$PYTHON is Python $PY_VERSION; stad-edge needs Python >=$NEEDS (requires-python in $SOURCE/pyproject.toml): pass --python with a Python >=$NEEDS; nothing was installed"
        fi
    fi
    # The venv is kept unless it was made for another major.minor than $PYTHON (Debian 12 -> 13 upgrades python3
    # 3.11 -> 3.13: bin/python follows /usr/bin/python3 to 3.13, which does not look in lib/python3.11, so nothing
    # installed is found), or its python runs another one, or does not start at all (its python3.X removed). Then a
    # new one is built whole in $VENV.new while the old one stays where the unit runs it; only a complete install is
    # moved into place. A patch-level change (3.11.2 -> 3.11.4) keeps the venv: its lib/python3.11 is still read.
    VENV_WHY=""
    if [ ! -e "$VENV" ] && [ ! -L "$VENV" ]; then
        VENV_WHY=new
    elif [ -L "$VENV/bin/python" ] && [ ! -e "$VENV/bin/python" ]; then
        VENV_WHY="its python does not start: $VENV/bin/python leads to $(readlink -f "$VENV/bin/python"), which is gone"
    elif [ ! -x "$VENV/bin/python" ]; then
        VENV_WHY="its python does not start: there is no $VENV/bin/python"
    elif ! VENV_RUNS=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
        VENV_WHY="its python does not start: $("$VENV/bin/python" -c '' 2>&1 | tail -n 1)"
    else
        VENV_MADE=$(sed -n 's/^version\(_info\)\{0,1\} *= *\([0-9][0-9]*\.[0-9][0-9]*\).*/\2/p' "$VENV/pyvenv.cfg" 2>/dev/null | head -n 1)
        if [ "${VENV_MADE:-$VENV_RUNS}" != "$PY_MINOR" ] || [ "$VENV_RUNS" != "$PY_MINOR" ]; then
            VENV_WHY="it was made for Python ${VENV_MADE:-(not in its pyvenv.cfg)} and its python runs $VENV_RUNS, but $PYTHON is $PY_VERSION"
        fi
    fi
    BUILD="$VENV"
    if [ -n "$VENV_WHY" ]; then
        BUILD="$VENV.new"
        if [ "$VENV_WHY" = new ]; then
            say "creating the virtualenv $VENV (Python $PY_VERSION)"
        else
            say "rebuilding the virtualenv $VENV from scratch: $VENV_WHY; the old one stays in place until the new one is complete"
        fi
        rm -rf "$BUILD"
        mkdir -p "$OPT_DIR"
        # shellcheck disable=SC2086
        if ! "$PYTHON" -m venv $VENV_ARGS "$BUILD"; then
            rm -rf "$BUILD"
            die "cannot create a venv (apt-get install python3-venv)"
        fi
    fi
    # The unit runs with ProtectHome=yes (and as a user that may not enter root's home): a venv
    # whose interpreter or standard library lies under /root, /home or /run/user — a pyenv, conda
    # or self-built python first on root's PATH — installs and checks fine here, then fails at
    # every start of the service (status 203/EXEC).
    for where in $(readlink -f "$BUILD/bin/python") \
                 $("$BUILD/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null); do
        case "$where/" in
            /root/*|/home/*|/run/user/*)
                VENV_OK=0
                say "warning: $VENV uses $where, which the service cannot see (ProtectHome=yes): it would fail at every start; remove $VENV and run this again with --python /usr/bin/python3 (apt-get install python3-venv)" >&2
                break ;;
        esac
    done
    # --extras "": the package alone (the numpy scorer only); pip refuses an empty "[]".
    if [ -z "$EXTRAS" ]; then
        TARGET="$SOURCE"
    elif [ -d "$SOURCE" ]; then
        TARGET="$SOURCE[$EXTRAS]"
    else
        TARGET="$SOURCE"
        case "$SOURCE" in *\[*) ;; *) TARGET="$SOURCE[$EXTRAS]" ;; esac
    fi
    say "installing $TARGET into $BUILD"
    # Whatever stops the install of a venv built anew removes it and leaves the old one as it was.
    KEPT=""
    if [ "$BUILD" != "$VENV" ] && [ -e "$VENV" ]; then
        KEPT="; $VENV is left as it was"
    fi
    # A venv made --without-pip (or where ensurepip is missing) is filled by $PYTHON's own pip.
    if "$BUILD/bin/python" -m pip --version >/dev/null 2>&1; then
        set -- "$BUILD/bin/python" -m pip
    elif "$PYTHON" -m pip --version >/dev/null 2>&1; then
        set -- "$PYTHON" -m pip --python "$BUILD/bin/python"
    else
        [ "$BUILD" = "$VENV" ] || rm -rf "$BUILD"
        die "no pip in $BUILD nor for $PYTHON (apt-get install python3-pip)$KEPT"
    fi
    # The wheel the package comes from, when there is one: the one given, or the one pip fetches for a spec (a
    # directory is built by pip at its install). What the release check below and the compare after the install read.
    WHEEL=""
    PKG_SPEC=${SOURCE%%\[*}
    FETCHED=""
    if [ -d "$SOURCE" ]; then
        :
    elif [ -f "$PKG_SPEC" ] && [ "${PKG_SPEC%.whl}" != "$PKG_SPEC" ]; then
        WHEEL=$PKG_SPEC
    else
        FETCHED=$(mktemp -d)
        trap 'rm -rf "$FETCHED"' EXIT     # (also when a step below dies)
        # shellcheck disable=SC2086
        "$@" download --disable-pip-version-check --quiet --no-deps $PIP_ARGS -d "$FETCHED" "$PKG_SPEC" >/dev/null 2>&1 || true
        WHEEL=$(find "$FETCHED" -maxdepth 1 -name '*.whl' | head -n 1)
    fi
    # An upgrade (or rollback) of a venv that is kept: the release being installed checks the installed config before
    # anything of it is put in the venv, staged in a folder of its own beside the venv's dependencies. A config it
    # refuses (a key a release before it never knew, a new check) stops the script here: installed anyway, the venv
    # held the other release under the running agent (an import it had not made yet read it), and the next restart
    # — a crash, a power cut — ran a release that exits 2 on its config, which the unit does not restart (user39).
    # A build the venv holds already is not checked again; a check that cannot run (a dependency new to this
    # release, an older release's check-config without --root) is left to the check after the install, as before.
    if [ "$BUILD" = "$VENV" ] && [ -f "$CONF_DIR/agent.yaml" ] \
            && "$VENV/bin/python" -c "$INSTALLED" 2>/dev/null \
            && { [ -z "$WHEEL" ] || ! "$VENV/bin/python" -c "$SAME_RELEASE" "$WHEEL" 2>/dev/null; }; then
        STAGE=$(mktemp -d)
        # shellcheck disable=SC2086
        if "$@" install --disable-pip-version-check --quiet --no-deps --target "$STAGE" $PIP_ARGS \
                "${WHEEL:-$PKG_SPEC}" >/dev/null 2>&1 && [ -f "$STAGE/agent/__main__.py" ]; then
            # (run in $STAGE: `python -m` puts the working directory first, and this may be run from a checkout)
            if PRE=$(cd "$STAGE" && if [ -n "$ROOT" ]; then set -- --root "$ROOT"; else set --; fi \
                     && PYTHONPATH="$STAGE" "$VENV/bin/python" -m agent check-config "$@" -c "$CONF_DIR/agent.yaml" 2>&1); then
                :
            elif [ $? -eq 2 ] && ! echo "$PRE" | grep -q '^usage:'; then
                rm -rf "$STAGE"
                echo "$PRE" | tail -n 20 >&2
                die "the release in $SOURCE refuses $CONF_DIR/agent.yaml (above): nothing was installed, the venv and a running agent are as they were; fix the config for that release, then run this again"
            fi
        fi
        rm -rf "$STAGE"
    fi
    # shellcheck disable=SC2086  # PIP_ARGS is a list of words on purpose
    if ! "$@" install --disable-pip-version-check --quiet --upgrade $PIP_ARGS "$TARGET"; then
        [ "$BUILD" = "$VENV" ] || rm -rf "$BUILD"
        die "pip could not install $TARGET (its error is above)$KEPT"
    fi
    # Every build of stad-edge is version 0.1.0, and pip keeps an installed distribution whose version a wheel's
    # matches ("already installed with the same version as the provided wheel"; from an index or --find-links,
    # "already satisfied"): a re-run with a new release's wheel left the old release in the venv and said
    # "installed" (user39). pip reinstalls a directory itself; a wheel — the one given, or the one pip fetches for
    # a spec — is compared with what the venv holds by the files its RECORD lists, and when they differ the
    # package alone is installed again over it.
    OVER=""
    if [ -n "$WHEEL" ]; then
        "$BUILD/bin/python" -c "$SAME_RELEASE" "$WHEEL" 2>/dev/null || OVER=$WHEEL
    elif [ -n "$FETCHED" ]; then
        OVER=$PKG_SPEC          # no wheel to compare with (pip fetched none): installed again to be sure
        say "pip fetched no wheel of $PKG_SPEC to compare with the venv's build: installing it again over that one"
    fi
    if [ -n "$WHEEL" ] && [ -n "$OVER" ]; then
        say "the venv held another build of $(basename "$OVER") under the same version: installing this one over it"
    fi
    if [ -n "$OVER" ]; then
        # shellcheck disable=SC2086
        if ! "$@" install --disable-pip-version-check --quiet --force-reinstall --no-deps $PIP_ARGS "$OVER"; then
            [ "$BUILD" = "$VENV" ] || rm -rf "$BUILD"
            die "pip could not install $OVER over the build the venv held (its error is above)$KEPT"
        fi
    fi
    [ -z "${FETCHED:-}" ] || rm -rf "$FETCHED"
    if [ "$BUILD" != "$VENV" ]; then
        "$BUILD/bin/python" -c "$RENAME_VENV" "$BUILD" "$VENV" || { rm -rf "$BUILD"; die "cannot rename $BUILD's paths$KEPT"; }
        # The old venv leaves only now, and its files go: the agent still running on it has what it imported.
        rm -rf "$VENV.old"
        [ ! -e "$VENV" ] && [ ! -L "$VENV" ] || mv "$VENV" "$VENV.old"
        mv "$BUILD" "$VENV"
        rm -rf "$VENV.old"
    else
        # What a swap cut short left beside a venv that is kept: the old venv whole (power lost before its removal),
        # or a venv.new of unknown state (a rebuild stopped, then the python it was for rolled back).
        rm -rf "$VENV.old" "$VENV.new"
    fi
    # The unit runs the agent as `python -OO` (PYTHONOPTIMIZE=2: no docstrings in memory) and writes no bytecode
    # (PYTHONDONTWRITEBYTECODE=1; /usr and /opt are read-only to it): the .opt-2.pyc files it reads are written here,
    # into $PYCACHE, the unit's PYTHONPYCACHEPREFIX — for what the agent imports (COMPILE_CLOSURE), the standard
    # library's modules among them (Debian's python3 ships none for -OO: each would compile at every start, +0.4 s;
    # docs/measured/speed.md, user19), not every module on the venv's sys.path (suite12: 15 MB against 40 with
    # onnx,tflite; docs/deploying.md). pip's plain .pyc beside the sources stay for stad-agent run by hand. Built whole
    # in $PYCACHE.new, then moved into place: a cache cut short is never the one read. A re-run with the same
    # interpreter (its .interpreter file unchanged) and a venv kept starts $PYCACHE.new as hard links to $PYCACHE and
    # compiles only the modules whose source changed since (user22): compileall writes each .pyc to a new file renamed
    # over the old name, so the links the running agent may read are never written through. Another interpreter (its
    # build, an apt upgrade of python3.11 included) or a venv built anew: compiled from scratch. The .pyc are
    # timestamp-checked: a source changed since (apt upgraded python3) compiles at each start, as without them, until
    # this script runs again.
    say "writing the bytecode for python -OO into $PYCACHE"
    rm -rf "$PYCACHE.new" "$PYCACHE.old"
    PY_ID=$("$VENV/bin/python" -OO -c "$INTERPRETER_ID" 2>/dev/null) || PY_ID=""
    if [ -n "$PY_ID" ] && [ "$BUILD" = "$VENV" ] && [ -f "$PYCACHE/.interpreter" ] \
            && [ "$(cat "$PYCACHE/.interpreter")" = "$PY_ID" ] && cp -al "$PYCACHE" "$PYCACHE.new" 2>/dev/null; then
        rm -f "$PYCACHE.new/.interpreter"
    else
        rm -rf "$PYCACHE.new"
        mkdir -p "$PYCACHE.new"
    fi
    if PYTHONPYCACHEPREFIX="$PYCACHE.new" "$VENV/bin/python" -OO -c "$COMPILE_CLOSURE" "$VENV/bin/stad-agent" \
            >/dev/null 2>&1; then
        [ -z "$PY_ID" ] || printf '%s\n' "$PY_ID" > "$PYCACHE.new/.interpreter"
    else
        say "warning: some modules did not compile for python -OO (they compile at each start)" >&2
    fi
    [ ! -e "$PYCACHE" ] || mv "$PYCACHE" "$PYCACHE.old"
    mv "$PYCACHE.new" "$PYCACHE"
    rm -rf "$PYCACHE.old"
    # The .opt-2.pyc an install before user19 wrote beside the venv's sources: unread under the prefix.
    find "$VENV/lib" -path '*/__pycache__/*.opt-2.pyc' -type f -delete 2>/dev/null || true
    if [ -d "$SOURCE" ] && [ -f "$SOURCE/README.md" ]; then
        install -m 0644 "$SOURCE/README.md" "$OPT_DIR/README.md"
    fi
fi

install -d -m 0755 "$UNIT_DIR"
install -m 0644 "$HERE/stad-agent.service" "$UNIT"

install -d -m 0755 "$CONF_DIR"
if [ -e "$CONF_DIR/agent.yaml" ]; then
    say "keeping the existing $CONF_DIR/agent.yaml"
else
    install -m 0644 "$CONFIG" "$CONF_DIR/agent.yaml"
    say "installed $CONF_DIR/agent.yaml from $CONFIG: edit it, then check it with stad-agent check-config"
fi

# install_secret SRC DEST: written to a fresh temporary file that mktemp creates beside DEST
# (O_EXCL, mode 0600, an unpredictable name: a planted symlink cannot redirect the secret), then
# renamed into place whole. A symlink at DEST or at the credential directory is refused.
# Nothing happens when SRC is empty.
install_secret() {
    [ -n "$1" ] || return 0
    [ ! -L "$CRED_DIR" ] || die "$CRED_DIR is a symbolic link: refusing to write a secret through it"
    install -d -m 0700 "$CRED_DIR"
    [ ! -L "$2" ] || die "$2 is a symbolic link: refusing to write a secret through it"
    tmp=$(umask 077 && mktemp "$2.XXXXXXXX") || die "cannot create a temporary file in $CRED_DIR"
    if ! (cat "$1" >> "$tmp" && chmod 0600 "$tmp" && mv -f "$tmp" "$2"); then
        rm -f "$tmp"
        die "cannot write $2"
    fi
}
install_secret "$MQTT_PASSWORD_FILE" "$CRED_PASSWORD"
install_secret "$TLS_KEY_FILE" "$CRED_TLS_KEY"

CONFIG_OK=1
if [ "$NO_VENV" -eq 0 ] && [ -x "$VENV/bin/stad-agent" ]; then
    # Under --root the config's absolute paths (/etc/credstore, /etc/stad-edge/…, /var/lib/stad-edge) are read
    # under ROOT: checked on this machine's, a correct staged config did not pass (user31, user32).
    check_config() {
        if [ -n "$ROOT" ]; then
            "$VENV/bin/stad-agent" check-config --root "$ROOT" -c "$CONF_DIR/agent.yaml"
        else
            "$VENV/bin/stad-agent" check-config -c "$CONF_DIR/agent.yaml"
        fi
    }
    if ! CHECK=$(check_config 2>&1); then
        CONFIG_OK=0
        echo "$CHECK" | tail -n 20 >&2
        say "warning: $CONF_DIR/agent.yaml does not pass check-config${ROOT:+ (its paths read under $ROOT)}; the service would not start"
    elif [ -n "$ROOT" ]; then
        say "$CONF_DIR/agent.yaml passes check-config with its paths read under $ROOT"
    fi
fi

if live_systemd; then
    systemctl daemon-reload
    if [ "$NO_START" -eq 0 ] && [ "$VENV_OK" -eq 0 ]; then
        say "not enabled or (re)started: the virtualenv's python is hidden from the service (see the warning above)"
        exit 1
    elif [ "$NO_START" -eq 0 ] && [ "$CONFIG_OK" -eq 0 ]; then
        # A restart would stop a running agent (an upgrade) for one that exits 2 at once: leave it be.
        say "not enabled or (re)started: fix $CONF_DIR/agent.yaml until stad-agent check-config passes, then: systemctl enable --now stad-agent"
        exit 1
    elif [ "$NO_START" -eq 0 ]; then
        systemctl enable stad-agent.service
        systemctl restart stad-agent.service
        say "started; follow it with: journalctl -fu stad-agent"
    fi
else
    say "no live systemd here (or --root given): systemctl skipped"
fi
say "installed into ${ROOT:-/}"
