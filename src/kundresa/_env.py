"""Reading the environment's on/off switches (``KUNDRESA_IN_PLACE``, ``KUNDRESA_NATIVE``,
``KUNDRESA_CHECK_CACHE``) one way."""

from __future__ import annotations

import os

__all__ = ["OFF", "ON", "switched_off"]

OFF = ("0", "false", "no", "off")
"""Values that turn a switch off (any case, spaces around ignored)."""

ON = ("1", "true", "yes", "on")
"""Values that leave a switch at its default (any case)."""


def switched_off(name: str) -> bool:
    """Whether the environment variable ``name`` holds one of :data:`OFF`.

    Examples
    --------
    >>> os.environ["KUNDRESA_EXAMPLE"] = " Off "
    >>> switched_off("KUNDRESA_EXAMPLE"), switched_off("KUNDRESA_UNSET_EXAMPLE")
    (True, False)
    >>> del os.environ["KUNDRESA_EXAMPLE"]
    """
    return os.environ.get(name, "").strip().lower() in OFF
