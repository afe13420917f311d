"""Secrets: after a full run (stamps, checks, verifies with a PDF report, receipts, an export, a
certificate, a refused key, a forced crash dialog, the logs), the API key's text is nowhere in the
data dir, logs, receipts, exports or PDFs (PDF streams inflated before the grep). The keyring path and
the no-keyring owner-only file are both tested, the second end to end through the CLI."""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.sandbox_fixture import running_sandbox
from tests.keyrings import MemoryKeyring

API_KEY = "sk-live-" + secrets.token_hex(12)
WRONG_KEY = "sk-wrong-" + secrets.token_hex(12)


def _cli(*argv, env, check=True):
    result = subprocess.run([sys.executable, "-m", "integritas_gui.cli", *argv], capture_output=True,
                            text=True, timeout=120, env={**os.environ, **env})
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _texts(path: Path) -> list[bytes]:
    """The file's bytes, plus every inflated stream when it is a PDF."""
    data = path.read_bytes()
    out = [data]
    if data.startswith(b"%PDF"):
        for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
            try:
                out.append(zlib.decompress(match.group(1)))
            except zlib.error:
                pass
    return out


def _leaks(folders, needles) -> list[str]:
    found = []
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if not path.is_file() or path.is_socket() or path.is_fifo():
                continue
            for blob in _texts(path):
                for needle in needles:
                    if needle.encode() in blob or needle.encode("utf-16-le") in blob:
                        found.append(f"{path}: {needle[:10]}...")
    return found


def test_api_key_never_reaches_disk(tmp_path, qtbot):
    data = tmp_path / "data"
    files = tmp_path / "files"
    exports = tmp_path / "exports"
    files.mkdir()
    exports.mkdir()
    for i in range(3):
        (files / f"doc {i}.txt").write_text(f"document {i}\n")
    env = {"INTEGRITAS_DATA_DIR": str(data), "INTEGRITAS_BLOCK_TIME": "0.2", "INTEGRITAS_API_KEY": API_KEY}
    pdfs = []
    with running_sandbox(api_key=API_KEY) as sandbox:
        base = ["--base-url", sandbox.base_url]
        _cli("stamp", "--wait", str(files), *base, env=env)
        _cli("check", str(files / "doc 0.txt"), *base, env=env)
        _cli("verify", str(files / "doc 1.txt"), "--report", str(exports / "report.pdf"), *base, env=env)
        _cli("verify", "--hash", "ab" * 32, *base, "--api-key", API_KEY, env=env, check=False)
        _cli("receipt", str(files / "doc 2.txt"), env=env)
        _cli("receipt", str(files / "doc 0.txt"), "--out", str(exports / "doc0.receipt.json"), env=env)
        _cli("history", "--json", env=env)
        refused = _cli("stamp", str(files / "doc 0.txt"), "--again", *base, "--api-key", WRONG_KEY,
                       env=env, check=False)
        assert refused.returncode == 3 and "API key" in refused.stdout + refused.stderr
        assert WRONG_KEY not in refused.stdout + refused.stderr
        pdfs.append(exports / "report.pdf")

        # a local certificate of a confirmed stamp
        from integritas_gui.core.certificate import certificate_for_job
        from integritas_gui.core.history import History

        history = History(data / "history.sqlite3")
        stamp = history.search(kind="stamp", limit=10)[-1]
        pdfs.append(certificate_for_job(history, stamp.id, exports / "certificate.pdf"))
        history.close()

    # a forced crash dialog whose exception text carries the key
    from integritas_gui.core.logsetup import register_secret, setup_logging
    from integritas_gui.gui.crash import CrashHandler

    setup_logging(data / "logs")
    register_secret(API_KEY)  # what the app does when it loads the key
    handler = CrashHandler()
    try:
        raise RuntimeError(f"request failed with headers {{'x-api-key': '{API_KEY}'}} key={API_KEY}")
    except RuntimeError as exc:
        handler.handle(type(exc), exc, exc.__traceback__, "worker")
    qtbot.waitUntil(lambda: len(handler.dialogs) == 1)
    shown = handler.dialogs[0].details.toPlainText()
    assert "RuntimeError" in shown and API_KEY not in shown
    (exports / "crash-details.txt").write_text(shown)
    handler.dialogs[0].grab().save(str(exports / "crash-dialog.png"))
    handler.dialogs[0].close()

    assert all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    logs = list((data / "logs").glob("integritas.log*"))
    assert logs and any("Uncaught exception" in p.read_text() for p in logs)
    assert list(files.glob("*.receipt.json")) or list(files.glob("*.json"))
    assert _leaks([data, exports, files], [API_KEY, WRONG_KEY]) == []


# ---- where the key is kept ----------------------------------------------------------------------

@pytest.fixture
def keyring_backend():
    before = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(before)


def test_keyring_path_keeps_the_key_off_disk(tmp_path, keyring_backend, monkeypatch):
    from integritas_gui.core.secrets import SecretStore

    monkeypatch.delenv("INTEGRITAS_API_KEY", raising=False)
    backend = MemoryKeyring()
    keyring_backend(backend)
    store = SecretStore(tmp_path / "config")
    store.set_api_key(API_KEY)
    assert store.get_api_key() == API_KEY and "system keyring" in store.backend_description
    assert list(backend.passwords.values()) == [API_KEY]
    assert _leaks([tmp_path], [API_KEY]) == []
    store.delete_api_key()
    assert store.get_api_key() is None


def test_no_keyring_refuses_plain_text_until_chosen_then_owner_only_file(tmp_path, keyring_backend,
                                                                          monkeypatch, sandbox):
    from integritas_gui.core.secrets import NoKeyring, SecretStore

    monkeypatch.delenv("INTEGRITAS_API_KEY", raising=False)
    keyring_backend(fail.Keyring())
    data = tmp_path / "data"
    store = SecretStore(data / "config")
    with pytest.raises(NoKeyring):
        store.set_api_key(sandbox.api_key)
    assert not store.key_file.exists()
    old_umask = os.umask(0)  # even a permissive umask must not widen the file
    try:
        store.use_file_fallback(True)
        store.set_api_key(sandbox.api_key)
    finally:
        os.umask(old_umask)
    mode = stat.S_IMODE(store.key_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert store.key_file.stat().st_uid == os.getuid()
    assert store.get_api_key() == sandbox.api_key

    # the CLI (no keyring on this machine, no key in the environment) finds the key in that file
    file = tmp_path / "a.txt"
    file.write_text("a")
    env = {k: v for k, v in os.environ.items() if k != "INTEGRITAS_API_KEY"}
    env.update(INTEGRITAS_DATA_DIR=str(data), INTEGRITAS_BLOCK_TIME="0.2",
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([sys.executable, "-m", "integritas_gui.cli", "stamp", str(file),
                             "--base-url", sandbox.base_url], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert _leaks([data / "logs", data / "history.sqlite3"], [sandbox.api_key]) == []


def test_the_leak_grep_sees_plain_and_compressed_text(tmp_path):
    """The grep above would find the key in a plain file and inside a compressed PDF stream."""
    (tmp_path / "plain.log").write_text(f"oops {API_KEY}\n")
    stream = zlib.compress(f"BT ({API_KEY}) Tj ET".encode())
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\n"
                                       + stream + b"\nendstream\nendobj\n%%EOF\n")
    assert len(_leaks([tmp_path], [API_KEY])) == 2
