"""Reading a config file into plain data, before any key of it is typed (agent/config.py `load`).

Why a module of its own: what a file must be to be read at all — UTF-8 text, one YAML document that is a mapping,
no key twice, YAML 1.2's `1e-3` a number, nested no deeper than MAX_DEPTH and no larger than MAX_VALUES once its
aliases are expanded (an alias bomb) — is about the file, not about the config's keys, and each refusal is a
ConfigError naming the file (and the line, for YAML), never a traceback. agent/config.py types what this returns.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from .lean_import import submodule
from .records import short_repr, shorten
from .typed import ConfigError, YamlNumeral

# PyYAML's pure-Python loader only: `import yaml` also loads its dumper, emitter, representer and
# libyaml binding (~0.4 MiB resident), none of which reading a config uses (agent/lean_import.py).
yaml_loader = submodule("yaml", "loader")
yaml = sys.modules["yaml"]          # .loader .nodes .constructor .resolver .error: loaded with it

MAX_DEPTH = 32            # nesting levels a config may have
MAX_VALUES = 100_000      # values a config may hold once its aliases are expanded


class _ConfigLoader(yaml_loader.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads YAML 1.2 floats such as `1e-3` as numbers."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.nodes.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue        # an unhashable key: the base class reports it
                if seen is not key_node.start_mark:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {short_repr(key)} (first at line {seen.line + 1})",
                        key_node.start_mark)
        return super().construct_mapping(node, deep)


_OCTAL = re.compile(r"[-+]?0[0-7_]+")


def _numeral(loader: _ConfigLoader, node, construct):
    """A YAML 1.1 number as PyYAML reads it, but `0300` (octal to YAML 1.1) and `1:30` (base 60) as written: a
    YamlNumeral, which every key refuses saying what YAML made of it (agent/typed.py)."""
    value = construct(loader, node)
    text = node.value
    if ":" in text:
        return YamlNumeral(text, f"base 60, {value:g}", "the number itself")
    if _OCTAL.fullmatch(text) and value:
        decimal = text.replace("_", "").lstrip("+-0")
        return YamlNumeral(text, f"octal for its leading zero, {value}",
                           f"{'-' if text.startswith('-') else ''}{decimal}")
    return value


_ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _ConfigLoader.construct_mapping)
_ConfigLoader.add_constructor("tag:yaml.org,2002:int",
                              lambda loader, node: _numeral(loader, node, yaml_loader.SafeLoader.construct_yaml_int))
_ConfigLoader.add_constructor("tag:yaml.org,2002:float",
                              lambda loader, node: _numeral(loader, node, yaml_loader.SafeLoader.construct_yaml_float))
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789"))


class _TooBig(Exception):
    pass


def _check_size(data: object) -> None:
    """Refuse configs nested too deeply, holding too many values (alias bombs) or referring to themselves."""
    sizes: dict[int, int | None] = {}

    def size(x: object, depth: int) -> int:
        if not isinstance(x, (dict, list)):
            return 1
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
        key = id(x)
        if key in sizes:
            if sizes[key] is None:
                raise _TooBig("a value contains itself (a recursive alias)")
            return sizes[key]
        sizes[key] = None
        children = list(x.values()) if isinstance(x, dict) else x
        total = 1 + sum(size(c, depth + 1) for c in children)
        if total > MAX_VALUES:
            raise _TooBig(f"more than {MAX_VALUES} values once its aliases are expanded")
        sizes[key] = total
        return total

    size(data, 1)


def read_mapping(path: Path) -> dict:
    """The mapping a config file holds, read safely: a ConfigError naming the file when it cannot be read, is no
    UTF-8 text or no valid YAML, is empty or no mapping, or is nested too deep or too big once its aliases are
    expanded (`_check_size`)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                                      "is this the config file?"]) from None
    try:
        loader = _ConfigLoader(text)        # what yaml.load(text, Loader=_ConfigLoader) does
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.error.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(str(path), [f"{where}not valid YAML ({shorten(str(problem), 200)})"]) from None
    except RecursionError:
        raise ConfigError(str(path), [f"nested more than {MAX_DEPTH} levels deep"]) from None
    if data is None:
        raise ConfigError(str(path), ["the file is empty: a config needs at least 'sensors' and 'sources' "
                                      "(see configs/ for examples)"])
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"<top>: expected a mapping of keys (sensors:, sources:, ...), "
                                      f"got {type(data).__name__} {short_repr(data)}"])
    try:
        _check_size(data)
    except _TooBig as exc:
        raise ConfigError(str(path), [f"<top>: {exc}"]) from None
    except RecursionError:
        raise ConfigError(str(path), [f"<top>: nested more than {MAX_DEPTH} levels deep"]) from None
    return data
