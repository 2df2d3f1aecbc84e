"""Entries of one config that would fight each other when the agent runs: an entry twice, two sources listening on
one port, a second sink of a type that can be there once, two MQTT clients with one client id at one broker, an MQTT
source whose filter reads back what this agent's sinks publish.

Why a module of its own: each is a config error found by comparing entries with one another (never one entry's
own keys, which its dataclass checks), said at load with the key path to change instead of `run` failing later
('Address already in use', two clients taking one connection from each other, the agent's alerts read back as
samples). Each check is given the entries it compares, not the whole config. `AgentConfig.validate` asks them
all (`entry_clashes`); preflight asks `shared_listeners` again with the addresses as this host resolves them.
"""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Callable

from .broker import topic_matches
from .sinks.base import SinkConfig
from .sources.base import SourceConfig

if TYPE_CHECKING:
    from .config import NodeConfig


def entry_clashes(sources: list, sinks: list, node: NodeConfig) -> list[tuple[str, str]]:
    """Every clash between this config's entries, as (key path, problem); `node` says the sinks' topics."""
    twice = entries_twice(sources, sinks)
    if twice:           # one line for the entry repeated, not every clash of it with itself as well
        return twice
    return (shared_listeners(sources) + (sinks_that_clash(sinks) or mqtt_clients_that_clash(sources, sinks, node))
            + sources_reading_own_topics(sources, sinks, node))


def as_written(path: str) -> str:
    """A file key's value as the same file however written: `./` and `..` steps and `~` taken out."""
    return os.path.normpath(os.path.expanduser(path))


def as_resolved(resolve: Callable[[str], object]) -> Callable[[str], str]:
    """preflight's `entries_twice` path: a file key's value as this host finds the file — its device and inode where it
    exists (two hard links to one file are one file: chaos7; chaos6 compared resolved paths, links told apart), else
    its real path (a sink's file not made yet, a symlink to one)."""
    def compared(path: str) -> str:
        real = os.path.realpath(resolve(path))
        try:
            found = os.stat(real)
        except OSError:
            return real
        return f"file {found.st_dev}:{found.st_ino}" if os.path.isfile(real) else real
    return compared


def entries_twice(sources: list, sinks: list, path: Callable[[str], str] = as_written) -> list[tuple[str, str]]:
    """A source or sink the same as an earlier one, every key alike (copied, or a YAML alias repeating one: `sources:
    [&s {…}, *s]`): check-config said ok and the agent ran it twice — a recording's every record came twice (the
    time base stepping back and forth, alerts on it), two readers split one stdin's lines, two JSONL sinks wrote
    every event twice into one file (chaos5).

    A file key (`path`, `…_file`) is compared as the file it names, `path(value)`: at load as written but for
    `./` and `..` steps and `~` (`alerts.jsonl` and `./alerts.jsonl` are one file), in preflight as this host
    finds it (`as_resolved`: an absolute path to it, a symlink to it, a hard link to it; `run` reads them from the
    config's directory): chaos6 — each spelling was an entry of its own, the file read or written twice again."""
    problems = []
    for key, entries, what in (("sources", sources, "every record would be read twice, or one input split "
                                                    "between the two"),
                               ("sinks", sinks, "every alert event would be sent twice")):
        kind = SourceConfig if key == "sources" else SinkConfig
        keyed = [_as_compared(entry, path) if isinstance(entry, kind) else None for entry in entries]
        for j, entry in enumerate(keyed):
            first = next((i for i, other in enumerate(keyed[:j]) if entry is not None and other == entry), None)
            if first is not None:
                problems.append((f"{key}[{j}]", f"the same as {key}[{first}], every key alike (an entry twice, or a "
                                                f"YAML alias repeating it{_spelt(entries[first], entries[j])}): "
                                                f"{what}; remove one"))
    return problems


def _is_file_key(name: str) -> bool:
    return name == "path" or name.endswith("_file")


def _as_compared(entry, path: Callable[[str], str]) -> tuple:
    """An entry as `entries_twice` compares it: its type and its compared keys, a file key as the file it names."""
    return (type(entry), *((f.name, path(v) if _is_file_key(f.name) and isinstance(v := getattr(entry, f.name), str)
                                     else getattr(entry, f.name)) for f in dataclasses.fields(entry) if f.compare))


def _spelt(first, again) -> str:
    """', its file spelt …' when the two name one file in two ways."""
    other = [f"{f.name} {getattr(first, f.name)!r} and {getattr(again, f.name)!r}" for f in dataclasses.fields(first)
             if f.compare and _is_file_key(f.name) and getattr(first, f.name) != getattr(again, f.name)]
    return f"; {', '.join(other)} are one file" if other else ""


WILDCARD_ADDRESSES = ("", "0.0.0.0")


def shared_listeners(sources: list, address=lambda addr: addr) -> list[tuple[str, str]]:
    """Two sources that would bind the same port (the same address, or one of them every address):
    the second cannot start, so it is a config error, not `run` exiting 'Address already in use'.
    At load the addresses are compared as written; preflight compares them as this host resolves
    them (`address`), so `localhost` beside `127.0.0.1` is caught too."""
    problems, taken = [], []
    for i, src in enumerate(sources):
        end = src.listens_on() if isinstance(src, SourceConfig) else None
        if end is None:
            continue
        proto, addr, port = end[0], address(end[1]), end[2]
        for j, (other_proto, other_addr, other_port, written) in taken:
            if (other_proto, other_port) == (proto, port) and (
                    other_addr == addr or other_addr in WILDCARD_ADDRESSES or addr in WILDCARD_ADDRESSES):
                problems.append((f"sources[{i}].port", f"sources[{j}] listens on {proto} {written}:{port} already"))
        taken.append((i, (proto, addr, port, end[1])))
    return problems


def sinks_that_clash(sinks: list) -> list[tuple[str, str]]:
    """A second sink of a type that can be there once (its ONE_PER_AGENT says why)."""
    problems, first = [], {}
    for i, sink in enumerate(sinks):
        if isinstance(sink, SinkConfig) and sink.ONE_PER_AGENT:
            if sink.TYPE in first:
                problems.append((f"sinks[{i}]", f"a second {sink.TYPE} sink (sinks[{first[sink.TYPE]}] is one): "
                                                f"{sink.ONE_PER_AGENT}"))
            first.setdefault(sink.TYPE, i)
    return problems


def same_broker(host: str, port: int) -> tuple[str, int]:
    """A broker as written (host names compare without case; a name and its address are not matched)."""
    return str(host).lower(), port


def mqtt_clients_that_clash(sources: list, sinks: list, node: NodeConfig) -> list[tuple[str, str]]:
    """Two MQTT clients of this config with one client id at one broker (as written): the broker keeps one
    connection per id, so the agent's own clients would take it from each other at every reconnect."""
    problems, seen = [], {}
    # the sinks first: a source's fixed id is the one to change (its default is random)
    clients = [(f"sinks[{i}]", sink.mqtt_client(node.site, node.id)) for i, sink in enumerate(sinks)
               if isinstance(sink, SinkConfig)]
    clients += [(f"sources[{i}]", src.mqtt_client()) for i, src in enumerate(sources)
                if isinstance(src, SourceConfig)]
    for where, client in clients:
        if client is None:
            continue
        host, port, client_id = client
        key = (*same_broker(host, port), client_id)
        if key in seen:
            problems.append((f"{where}.broker.client_id", (
                f"{client_id!r} is {seen[key]}'s client id at {host}:{port} too: the broker keeps one connection per "
                "id, so the two would take it from each other (no sample read, no alert sent); change one")))
        seen.setdefault(key, where)
    return problems


def sources_reading_own_topics(sources: list, sinks: list, node: NodeConfig) -> list[tuple[str, str]]:
    """An MQTT source's filter that matches a topic this agent's sinks publish at the same broker (as
    written): it would read the agent's own status, health and alerts back as samples."""
    published = [(f"sinks[{i}]", got) for i, sink in enumerate(sinks)
                 if isinstance(sink, SinkConfig) and (got := sink.mqtt_topics(node.site, node.id))]
    subscribed = [(i, got) for i, src in enumerate(sources)
                  if isinstance(src, SourceConfig) and (got := src.mqtt_filters())]
    if not (published and subscribed):
        return []
    problems = []
    for i, (host, port, filters) in subscribed:
        for topic_filter in filters:
            for where, (sink_host, sink_port, topics) in published:
                hit = next((t for t in topics if same_broker(host, port) == same_broker(sink_host, sink_port)
                            and topic_matches(topic_filter, t)), None)
                if hit:
                    problems.append((f"sources[{i}].topics.{topic_filter}", (
                        f"matches {hit}, which {where} publishes at {host}:{port}: the source would read this "
                        "agent's own messages back as samples; narrow the filter")))
                    break
    return problems
