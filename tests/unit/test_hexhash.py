"""core.hexhash: what a person may paste as a SHA3-256 hash."""

from __future__ import annotations

import pytest

from integritas_gui.core.errors import BadInput
from integritas_gui.core.hexhash import is_hash, normalise

HASH = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"


@pytest.mark.parametrize(
    "text",
    [
        HASH,
        HASH.upper(),
        "0x" + HASH,
        "0X" + HASH.upper(),
        f"  {HASH}\n",
        "\t0x" + HASH[:32] + "\n" + HASH[32:] + "  ",
        " ".join(HASH[i : i + 8] for i in range(0, 64, 8)),
    ],
)
def test_accepted_forms(text):
    assert normalise(text) == HASH
    assert is_hash(text)


@pytest.mark.parametrize(
    "text, got",
    [
        ("", "got 0"),
        ("   ", "got 0"),
        ("0x", "got 0"),
        (HASH[:-1], "got 63"),
        (HASH + "0", "got 65"),
        ("0x" + HASH[:10], "got 10"),
        ("g" + HASH[1:], "got “g”"),
        (HASH[:-2] + "-z", "got “-”, “z”"),
        ("٣" + HASH[1:], "got “٣”"),  # a digit, but not a hexadecimal one
        ("0x0x" + HASH[2:], "got “x”"),
    ],
)
def test_rejected_with_a_plain_message(text, got):
    with pytest.raises(BadInput) as caught:
        normalise(text)
    message = caught.value.message
    assert "is not a SHA3-256 hash: expected 64 hexadecimal characters" in message
    assert got in message
    assert not is_hash(text)


def test_long_input_is_shortened_in_the_message():
    with pytest.raises(BadInput) as caught:
        normalise("f" * 500)
    assert "f" * 21 not in caught.value.message
    assert "got 500" in caught.value.message


@pytest.mark.parametrize("value", [None, 123, b"a" * 64])
def test_non_text_is_not_a_hash(value):
    assert not is_hash(value)
    with pytest.raises(BadInput):
        normalise(value)


# ---- strict and lenient, named apart -------------------------------------------------------------
from integritas_gui.core.hexhash import normalise_hash_lenient, parse_sha3_strict  # noqa: E402


@pytest.mark.parametrize("echoed, expected", [
    ("0x" + HASH.upper(), HASH),
    (f"  {HASH}\n", HASH),
    ("0X" + HASH[:10].upper(), HASH[:10]),  # lenient: any length, the caller compares
    ("", None),
    ("  0x ", None),
    (None, None),
    (42, None),
])
def test_lenient_reads_what_a_service_echoes(echoed, expected):
    assert normalise_hash_lenient(echoed) == expected


@pytest.mark.parametrize("typed", [HASH[:63], HASH + "0", "0x" + HASH[:60] + "zzzz", "", None])
def test_strict_refuses_what_lenient_passes(typed):
    with pytest.raises(BadInput):
        parse_sha3_strict(typed)


def test_strict_and_lenient_agree_on_a_valid_hash():
    pasted = "0x" + " ".join(HASH.upper()[i:i + 16] for i in range(0, 64, 16))
    assert parse_sha3_strict(pasted) == normalise_hash_lenient(pasted) == HASH
