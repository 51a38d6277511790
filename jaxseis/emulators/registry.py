"""The registry of emulator families: a family's name to the module or object implementing it.

The built-in families are registered when :mod:`jaxseis.emulators` is imported;
:func:`register` adds others (anything following :class:`~jaxseis.emulators.base.Family`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAMILIES", "families", "get_family", "register"]

FAMILIES: dict[str, Any] = {}
"""Family name -> family, e.g. ``"nn_direct"`` -> :mod:`jaxseis.emulators.nn_direct`."""


def register(family) -> Any:
    """Register an emulator family (a module or object following
    :class:`~jaxseis.emulators.base.Family`) under ``family.name``; returns it."""
    FAMILIES[family.name] = family
    return family


def families() -> dict[str, Any]:
    """:data:`FAMILIES`, with the built-in families registered."""
    from jaxseis import emulators  # noqa: F401  (registers the built-in families)

    return FAMILIES


def get_family(kind: str):
    """The family registered as ``kind``.

    Raises:
        ValueError: no family of that name (the message lists the registered ones).
    """
    known = families()
    if kind not in known:
        raise ValueError(f"unknown emulator family {kind!r}; available: {sorted(known)}")
    return known[kind]
