"""Table keys: the scope first, so every key of a scope lives with the scope's partition."""

from __future__ import annotations

SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a scope (see TextEvent.scope)


def scoped(scope: str, *parts: object) -> str:
    return SEPARATOR.join((scope, *(str(p) for p in parts)))
