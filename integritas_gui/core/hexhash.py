"""Hashes as text, read two ways, named apart.

``parse_sha3_strict``: what a person typed or pasted, or a hash about to be sent. Whitespace, a
``0x`` prefix and upper case are forgiven; anything but 64 hexadecimal digits is refused with a
plain message (BadInput).

``normalise_hash_lenient``: what a service or a file echoes back (``0x``, upper case, spaces).
Never raises; the caller compares the result with the hash it expected.
"""

from __future__ import annotations

from typing import Any

from integritas_gui.core.errors import BadInput

_HEX_DIGITS = frozenset("0123456789abcdef")
HASH_LENGTH = 64


def _shown(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "…"


def normalise_hash_lenient(value: Any) -> str | None:
    """Lowercase hex without whitespace or ``0x``; None for anything that is not text or is empty.
    The length and the digits are not checked."""
    if not isinstance(value, str):
        return None
    compact = "".join(value.split())
    if compact[:2] in ("0x", "0X"):
        compact = compact[2:]
    return compact.lower() or None


def is_hex(text: str | None, length: int | None = None) -> bool:
    """True when ``text`` is lowercase hexadecimal (of ``length`` digits, when given)."""
    return bool(text) and (length is None or len(text) == length) and set(text) <= _HEX_DIGITS


def parse_sha3_strict(text: Any) -> str:
    """The hash as 64 lowercase hex. Raises BadInput with a plain message when ``text`` is not a
    SHA3-256 hash."""
    if not isinstance(text, str):
        raise BadInput(f"{type(text).__name__} is not a SHA3-256 hash: expected text of 64 hexadecimal characters.")
    lowered = normalise_hash_lenient(text)
    if not lowered:
        raise BadInput("An empty text is not a SHA3-256 hash: expected 64 hexadecimal characters, got 0.")
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


def is_sha3(text: object) -> bool:
    """True when ``parse_sha3_strict`` would accept ``text``."""
    try:
        parse_sha3_strict(text)
    except BadInput:
        return False
    return True


normalise = parse_sha3_strict  # the older names
is_hash = is_sha3

__all__ = ["HASH_LENGTH", "is_hex", "is_sha3", "normalise_hash_lenient", "parse_sha3_strict"]
