"""The Linux bundle leaves the cryptography package out (~11 MB) and gives keyring's Secret Service
backend AES-CBC through OpenSSL instead (packaging/linux/rthook_cryptography_aes.py). Proven here
against the real cryptography package and through secretstorage's own encrypt/decrypt code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "packaging" / "linux" / "rthook_cryptography_aes.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hook serves the Linux build")

# Runs with `cryptography` made unimportable, as in the bundle, then the hook.
CHILD = r"""
import json, os, runpy, sys
sys.modules["cryptography"] = None
runpy.run_path(sys.argv[1])
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
cases = json.loads(sys.stdin.read())
out = []
for key, iv, data in cases:
    key, iv, data = bytes.fromhex(key), bytes.fromhex(iv), bytes.fromhex(data)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv), default_backend()).encryptor()
    ct = enc.update(data[:7]) + enc.update(data[7:]) + enc.finalize()
    dec = Cipher(algorithms.AES(key), modes.CBC(iv), default_backend()).decryptor()
    out.append([ct.hex(), (dec.update(ct) + dec.finalize()).hex()])
enc = Cipher(algorithms.AES(b"k" * 16), modes.CBC(b"i" * 16)).encryptor()
enc.update(b"x" * 5)
try:
    enc.finalize()
    partial = "accepted"
except ValueError:
    partial = "refused"

# secretstorage's own code: format_secret encrypts (util.py), Item.get_secret's decryption (item.py).
from secretstorage.dhcrypto import Session
from secretstorage.util import format_secret
session = Session()
session.aes_key = os.urandom(16)
session.object_path = "/org/freedesktop/secrets/session/1"
path, aes_iv, encrypted, content_type = format_secret(session, "api-key-\u00e9-123", "text/plain")
dec = Cipher(algorithms.AES(session.aes_key), modes.CBC(aes_iv), default_backend()).decryptor()
padded = dec.update(bytes(encrypted)) + dec.finalize()
import cryptography
print(json.dumps({"cases": out, "partial": partial, "roundtrip": padded[:-padded[-1]].decode(),
                  "shim": not hasattr(cryptography, "__version__")}))
"""


def test_hook_aes_cbc_matches_the_real_cryptography_and_serves_secretstorage():
    pytest.importorskip("secretstorage")
    real = pytest.importorskip("cryptography.hazmat.primitives.ciphers")
    cases = [(os.urandom(k).hex(), os.urandom(16).hex(), os.urandom(n).hex())
             for k in (16, 24, 32) for n in (16, 48, 1024)]
    done = subprocess.run([sys.executable, "-c", CHILD, str(HOOK)], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["shim"], "the child used the real cryptography, not the hook"
    for (key, iv, data), (ct, back) in zip(cases, result["cases"]):
        enc = real.Cipher(real.algorithms.AES(bytes.fromhex(key)), real.modes.CBC(bytes.fromhex(iv))).encryptor()
        assert ct == (enc.update(bytes.fromhex(data)) + enc.finalize()).hex()
        assert back == data
    assert result["partial"] == "refused"  # no padding: a partial block is an error, as in cryptography
    assert result["roundtrip"] == "api-key-\u00e9-123"


def test_hook_leaves_a_real_cryptography_alone():
    pytest.importorskip("cryptography")
    code = f"import runpy, cryptography; runpy.run_path({str(HOOK)!r}); print(cryptography.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
