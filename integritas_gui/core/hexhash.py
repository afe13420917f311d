"""Read a SHA3-256 hash a person typed or pasted: whitespace, ``0x`` and upper case are fine."""

from __future__ import annotations

from integritas_gui.core.errors import BadInput

_HEX_DIGITS = frozenset("0123456789abcdef")
HASH_LENGTH = 64


def _shown(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "…"


def normalise(text: str) -> str:
    """The hash as 64 lowercase hex; whitespace anywhere, a ``0x``/``0X`` prefix and case are dropped.

    Raises BadInput with a plain message when ``text`` is not a SHA3-256 hash.
    """
    if not isinstance(text, str):
        raise BadInput(f"{type(text).__name__} is not a SHA3-256 hash: expected text of 64 hexadecimal characters.")
    compact = "".join(text.split())
    if compact[:2] in ("0x", "0X"):
        compact = compact[2:]
    if not compact:
        raise BadInput("An empty text is not a SHA3-256 hash: expected 64 hexadecimal characters, got 0.")
    lowered = compact.lower()
    if len(lowered) != HASH_LENGTH:
        raise BadInput(
            f"“{_shown(text.strip())}” is not a SHA3-256 hash: expected {HASH_LENGTH} hexadecimal "
            f"characters, got {len(lowered)}."
        )
    strange = sorted({char for char in lowered if char not in _HEX_DIGITS})
    if strange:
        listed = ", ".join(f"“{char}”" for char in strange[:5])
        raise BadInput(
            f"“{_shown(text.strip())}” is not a SHA3-256 hash: expected {HASH_LENGTH} hexadecimal "
            f"characters (0-9, a-f), got {listed}."
        )
    return lowered


def is_hash(text: object) -> bool:
    """True when ``normalise`` would accept ``text``."""
    try:
        normalise(text)  # type: ignore[arg-type]
    except BadInput:
        return False
    return True
