"""Every setting changes what the `integritas` command does, set with `integritas config`, the
environment or an option; trial mode on a fresh machine. Real processes, the real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keyring
import pytest

from integritas_gui import cli
from integritas_gui.core.receipts import read_receipt, sidecar_path
from tests.forward_proxy import ForwardProxy
from tests.keyrings import MemoryKeyring
from tests.reliability.fault_proxy import FaultProxy
from tests.sandbox_fixture import sandbox_stats as stats

UNKNOWN = "00" * 31 + "ab"


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INTEGRITAS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(INTEGRITAS_DATA_DIR=str(data_dir), INTEGRITAS_SANDBOX_BLOCK_TIME="0.2", **extra)
    return env


@pytest.fixture
def integritas(data_dir):
    """Run `integritas ARGS` as its own process on the test's data dir; returns CompletedProcess
    (``lines``: the JSON lines on stdout, when --json was given)."""

    def run(*argv: str, stdin: str | None = None, timeout: float = 90, **env: str):
        done = subprocess.run([sys.executable, "-m", "integritas_gui.cli", *argv], input=stdin,
                              capture_output=True, text=True, timeout=timeout,
                              env=clean_env(data_dir, **env))
        done.lines = [json.loads(line) for line in done.stdout.splitlines()
                      if "--json" in argv and line.strip()]
        return done

    return run


def test_fresh_machine_stamp_wait_works_in_trial_mode_and_every_result_says_sandbox(integritas, tmp_path,
                                                                                   data_dir):
    file = tmp_path / "first.txt"
    file.write_text("hello from a fresh machine\n")
    done = integritas("stamp", "--wait", str(file))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"[sandbox] {file}: confirmed in block ")
    assert "trial mode" in done.stderr and "not a real blockchain" in done.stderr
    assert (data_dir / "sandbox-ledger.sqlite3").is_file()  # the ledger is kept in the data dir

    done = integritas("check", str(file), "--json")
    assert done.returncode == 0, done.stderr
    assert (done.lines[0]["outcome"], done.lines[0]["sandbox"]) == ("found", True)


def test_config_round_trip_for_every_key_and_plain_errors(tmp_path, capsys, data_dir):
    def config(*argv):
        code = cli.main(["config", *argv, "--json"])
        captured = capsys.readouterr()
        return code, [json.loads(l) for l in captured.out.splitlines() if l.strip()], captured.err

    code, listed, _ = config("list")
    assert code == 0
    defaults = {row["key"]: row["value"] for row in listed}
    assert defaults["service"] == "https://integritas.technology/core" and defaults["proxy"] == ""
    changes = {"service": ("sandbox", "sandbox"), "proxy": ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
               "segment-size": ("256KiB", 262144), "sidecar-receipts": ("yes", True),
               "hash-workers": ("1", 1), "request-timeout": ("7.5", 7.5),
               "send-file-details": ("on", True), "notifications": ("no", False),
               "drop-action": ("verify", "verify"), "stamp-with": ("node", "node"),
               "node-url": ("127.0.0.1:9105/", "http://127.0.0.1:9105"), "node-confirmations": ("5", 5),
               "close-to-tray": ("yes", True)}
    for key, (text, value) in changes.items():
        assert config("set", key, text)[:2] == (0, [{"key": key, "value": value}])
        assert config("get", key)[1] == [{"key": key, "value": value}]
    saved = json.loads((data_dir / "config" / "settings.json").read_text())
    assert saved["base_url"] == "sandbox" and saved["segment_size"] == 262144
    assert saved["first_run_done"] is True  # a chosen service: the window skips its first-run screen
    for key in changes:
        assert config("unset", key)[0] == 0
        assert config("get", key)[1] == [{"key": key, "value": defaults[key]}]

    for argv in (("set", "segment-size", "3MiB"), ("set", "proxy", "socks://x"), ("set", "service", "http://example.com"),
                 ("set", "hash-workers", "0"), ("set", "request-timeout", "soon"), ("get", "colour"),
                 ("set", "sidecar-receipts", "maybe"), ("set", "stamp-with", "my node"),
                 ("set", "node-url", "ftp://node.example"), ("set", "node-confirmations", "0"),
                 ("set", "close-to-tray", "maybe")):
        code, out, err = config(*argv)
        assert (code, out) == (2, []), argv
        assert err.startswith("integritas: ") and err.count("\n") == 1 and "Traceback" not in err
    assert json.loads((data_dir / "config" / "settings.json").read_text())["segment_size"] == "auto"


def test_api_key_from_stdin_goes_to_the_keyring_and_is_never_printed(capsys, monkeypatch):
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("sk-secret-4711\n"))
        assert cli.main(["config", "set", "api-key", "-"]) == 0
        assert backend.passwords == {("integritas-desktop", "api-key"): "sk-secret-4711"}
        assert cli.main(["config", "get", "api-key"]) == 0
        assert cli.main(["config", "list"]) == 0
        out = capsys.readouterr()
        assert "stored in the system keyring" in out.out and "sk-secret-4711" not in out.out + out.err
        assert cli.main(["config", "set", "api-key", "sk-on-the-command-line"]) == 2
        assert "stdin" in capsys.readouterr().err
        assert cli.main(["config", "unset", "api-key"]) == 0
        assert backend.passwords == {}
    finally:
        keyring.set_keyring(previous)


def test_stored_key_without_keyring_needs_the_file_choice_and_then_is_used(integritas, sandbox, data_dir):
    key = sandbox.api_key
    refused = integritas("config", "set", "api-key", "-", stdin=key + "\n")
    assert refused.returncode == 2 and "config set key-file yes" in refused.stderr
    assert integritas("config", "set", "key-file", "yes").returncode == 0
    outputs = [integritas("config", "set", "api-key", "-", stdin=key + "\n")]
    outputs.append(integritas("config", "get", "api-key"))
    assert outputs[-1].stdout.startswith("api-key = stored in a file only you can read")
    outputs.append(integritas("config", "set", "service", sandbox.base_url))
    outputs.append(integritas("check", "--hash", UNKNOWN, "--json"))  # the stored key, the given service
    assert outputs[-1].returncode == 1, outputs[-1].stderr
    assert outputs[-1].lines[0]["sandbox"] is False and stats(sandbox)["checks"] == 1
    outputs.append(integritas("config", "list"))
    kept = integritas("config", "set", "key-file", "no")  # no keyring to move it to: nothing lost
    assert kept.returncode == 2 and "stays in its file" in kept.stderr
    assert integritas("config", "get", "api-key").stdout.startswith("api-key = stored in a file")
    for done in outputs + [refused]:
        assert key not in done.stdout + done.stderr
    for path in data_dir.rglob("*"):
        if path.is_file() and path.name != "api-key" and "sandbox-ledger" not in path.name:
            assert key.encode() not in path.read_bytes(), path


def test_proxy_setting_carries_every_request_and_the_report_download(integritas, sandbox, tmp_path):
    file = tmp_path / "report me.txt"
    file.write_text("to verify through the proxy\n")
    service = {"INTEGRITAS_SERVICE": sandbox.base_url, "INTEGRITAS_API_KEY": sandbox.api_key}
    with ForwardProxy() as proxy:
        assert integritas("stamp", "--wait", str(file), **service).returncode == 0
        assert proxy.count() == 0  # no proxy set: a service on this computer is reached directly
        assert integritas("config", "set", "proxy", proxy.url).returncode == 0
        done = integritas("verify", str(file), "--report", str(tmp_path / "r.pdf"), **service)
        assert done.returncode == 0, done.stderr
        assert proxy.count("POST", "/v2/verify/file") == 1
        assert proxy.count("GET", "/_sandbox/reports/") == 1 and stats(sandbox)["reports"] == 1
        assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
        assert b"report me.txt" not in b"".join(proxy.bodies)  # only the hash, unless asked
        assert integritas("config", "set", "send-file-details", "yes").returncode == 0
        assert integritas("verify", str(file), **service).returncode == 0
        assert b'"filename": "report me.txt"' in proxy.bodies[-1]
        sent = len(proxy.requests)
        # The option and the variable override the setting for one run.
        assert integritas("check", str(file), "--proxy", "none", **service).returncode == 0
        assert integritas("check", str(file), **service, INTEGRITAS_PROXY="none").returncode == 0
        assert proxy.count() == sent
        bad = integritas("check", str(file), **service, INTEGRITAS_PROXY="ftp://nope")
        assert bad.returncode == 2 and "INTEGRITAS_PROXY" in bad.stderr


def test_segment_size_and_sidecar_settings_shape_the_stamp(integritas, tmp_path):
    files = []
    for name in ("big.bin", "other.bin"):
        files.append(tmp_path / name)
        files[-1].write_bytes(os.urandom(1_000_000))
    assert integritas("config", "set", "segment-size", "256KiB").returncode == 0
    hashed = integritas("hash", str(files[0]), "--json")
    assert hashed.lines[0]["segment_size"] == 256 * 1024  # `integritas hash` shows what a stamp uses
    assert integritas("config", "set", "sidecar-receipts", "yes").returncode == 0
    assert integritas("stamp", "--wait", str(files[0])).returncode == 0
    assert read_receipt(sidecar_path(files[0])).segment_size == 256 * 1024

    assert integritas("config", "unset", "segment-size").returncode == 0
    assert integritas("config", "unset", "sidecar-receipts").returncode == 0
    assert integritas("stamp", "--wait", str(files[1])).returncode == 0
    assert not sidecar_path(files[1]).exists()
    written = integritas("receipt", str(files[1]), "--out", str(tmp_path / "r.json"))
    assert written.returncode == 0 and read_receipt(tmp_path / "r.json").segment_size == 64 * 1024


def test_request_timeout_gives_up_on_a_slow_answer(integritas, sandbox):
    proxy = FaultProxy(sandbox.origin).start()
    try:
        service = {"INTEGRITAS_SERVICE": proxy.base_url, "INTEGRITAS_API_KEY": sandbox.api_key}
        proxy.aim("check", "slow:3", times=1)
        done = integritas("check", "--hash", UNKNOWN, **service)
        assert done.returncode == 1 and proxy.counts["check"] == 1  # waited for the slow answer

        proxy.aim("check", "slow:60", times=1)  # an answer a minute late: only a timeout ends it early
        started = time.monotonic()
        done = integritas("check", "--hash", UNKNOWN, "--request-timeout", "1", **service)
        assert done.returncode == 1 and proxy.counts["check"] == 3  # gave up once, asked again
        assert time.monotonic() - started < 30  # never waited for the slow answer

        proxy.aim("check", "slow:3", times=1)
        assert integritas("config", "set", "request-timeout", "1").returncode == 0
        done = integritas("check", "--hash", UNKNOWN, **service)
        assert done.returncode == 1 and proxy.counts["check"] == 5
        bad = integritas("check", "--hash", UNKNOWN, "--request-timeout", "0", **service)
        assert bad.returncode == 2 and "request timeout" in bad.stderr
    finally:
        proxy.stop()


def test_environment_names_the_service_and_old_names_still_work(integritas, sandbox, tmp_path):
    file = tmp_path / "f.txt"
    file.write_text("x\n")
    # A key from the environment, and the service from the old variable name.
    done = integritas("stamp", "--wait", str(file), "--json", INTEGRITAS_BASE_URL=sandbox.base_url,
                      INTEGRITAS_API_KEY=sandbox.api_key, INTEGRITAS_BLOCK_TIME="0.2")
    assert done.returncode == 0 and done.lines[0]["sandbox"] is False and stats(sandbox)["submissions"] == 1
    before = stats(sandbox)["requests"]
    # service=sandbox wins over a key: trial mode, the other service untouched.
    done = integritas("check", str(file), "--json", INTEGRITAS_SERVICE="sandbox",
                      INTEGRITAS_API_KEY=sandbox.api_key)
    assert done.returncode == 1 and done.lines[0]["sandbox"] is True
    # A service given for this run with no key at all: a plain message, nothing sent.
    done = integritas("check", str(file), "--base-url", sandbox.base_url)
    assert done.returncode == 2 and "No API key" in done.stderr
    assert stats(sandbox)["requests"] == before


def test_help_names_the_settings_and_the_timeout_option():
    for command in ("stamp", "check", "verify", "resume"):
        text = subprocess.run([sys.executable, "-m", "integritas_gui.cli", command, "--help"],
                              capture_output=True, text=True, check=True).stdout
        assert "--request-timeout SECONDS" in text and "--proxy URL" in text
    text = subprocess.run([sys.executable, "-m", "integritas_gui.cli", "config", "--help"],
                          capture_output=True, text=True, check=True).stdout
    for key in ("service", "proxy", "segment-size", "sidecar-receipts", "hash-workers",
                "request-timeout", "api-key", "INTEGRITAS_PROXY"):
        assert key in text
