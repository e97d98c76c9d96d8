"""One generic, typed registry: ids checked at the door, duplicates rejected.

Every vocabulary fpbench exposes to users (attacks, metrics, presets, baselines, generators)
is a :class:`Registry`. Lookups of unknown ids fail with a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def did_you_mean(value: object, choices) -> str:
    """`` Did you mean 'x'?`` (up to three close matches among ``choices``), or ``""`` when none is close."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_choice(name: str, value: object, choices) -> None:
    """Fail with a did-you-mean message naming the valid values when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}.{did_you_mean(value, choices)}")


class UnknownIdError(KeyError):
    """An id that is not in a registry; the message lists close matches and the valid ids."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0])


class DuplicateIdError(ValueError):
    """Raised when an id is registered twice."""


class Registry(Generic[T]):
    """A named mapping from string ids to entries of one type.

    >>> colours = Registry[str]("colour")
    >>> colours.add("red", "#f00")
    '#f00'
    >>> colours.get("red")
    '#f00'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, entry_id: str, entry: T) -> T:
        if not entry_id or entry_id != entry_id.strip():
            raise ValueError(f"invalid {self.kind} id {entry_id!r}")
        if entry_id in self._entries:
            raise DuplicateIdError(f"{self.kind} id {entry_id!r} is already registered")
        self._entries[entry_id] = entry
        return entry

    def register(self, entry_id: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorator(entry: T) -> T:
            return self.add(entry_id, entry)

        return decorator

    def get(self, entry_id: str) -> T:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise UnknownIdError(self.unknown_message(entry_id)) from None

    def unknown_message(self, entry_id: str) -> str:
        return (
            f"unknown {self.kind} {entry_id!r}.{did_you_mean(entry_id, self._entries)} "
            f"Valid {self.kind} ids: {', '.join(sorted(self._entries))}."
        )

    def ids(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
