"""How settings, the environment and options combine (session.py), and how settings are checked."""

from __future__ import annotations

import json

import pytest

from integritas_gui.core.settings import (
    REAL_SERVICE_URL,
    SettingError,
    Settings,
    check_service,
    load_settings,
    parse_segment_size,
    show_proxy,
)
from integritas_gui.session import Overrides, effective_settings, overrides_from_env


def test_environment_overrides_with_one_name_per_setting_and_the_old_names():
    env = {"INTEGRITAS_SERVICE": "sandbox", "INTEGRITAS_PROXY": "http://127.0.0.1:3128",
           "INTEGRITAS_SEGMENT_SIZE": "4MiB", "INTEGRITAS_SIDECAR_RECEIPTS": "yes",
           "INTEGRITAS_HASH_WORKERS": "1", "INTEGRITAS_REQUEST_TIMEOUT": "12",
           "INTEGRITAS_SANDBOX_BLOCK_TIME": "0.5"}
    overrides = overrides_from_env(env)
    assert overrides.settings == {"base_url": "sandbox", "proxy": "http://127.0.0.1:3128",
                                  "segment_size": 4 * 1024 * 1024, "write_sidecar_receipts": True,
                                  "hash_workers": 1, "request_timeout": 12.0}
    assert overrides.sandbox_block_time == 0.5
    old = overrides_from_env({"INTEGRITAS_BASE_URL": "http://127.0.0.1:9/core", "INTEGRITAS_BLOCK_TIME": "2"})
    assert (old.settings, old.sandbox_block_time) == ({"base_url": "http://127.0.0.1:9/core"}, 2.0)
    newer = overrides_from_env({"INTEGRITAS_BASE_URL": "http://127.0.0.1:9/core", "INTEGRITAS_SERVICE": "sandbox"})
    assert newer.settings == {"base_url": "sandbox"}


@pytest.mark.parametrize("name, value", [("INTEGRITAS_SERVICE", "integritas.technology"),
                                         ("INTEGRITAS_PROXY", "proxy:8080"),
                                         ("INTEGRITAS_SEGMENT_SIZE", "100000"),
                                         ("INTEGRITAS_SANDBOX_BLOCK_TIME", "soon")])
def test_a_bad_environment_value_names_the_variable(name, value):
    with pytest.raises(SettingError) as caught:
        overrides_from_env({name: value})
    assert caught.value.message.startswith(f"{name}: ")


def test_options_override_the_environment_and_never_the_saved_settings():
    saved = Settings(proxy="http://127.0.0.1:1", hash_workers=3)
    env = overrides_from_env({"INTEGRITAS_PROXY": "http://127.0.0.1:2", "INTEGRITAS_HASH_WORKERS": "2"})
    combined = env.merged(Overrides(settings={"proxy": ""}, max_retries=0))
    effective = effective_settings(saved, combined)
    assert (effective.proxy, effective.hash_workers) == ("", 2) and combined.max_retries == 0
    assert (saved.proxy, saved.hash_workers) == ("http://127.0.0.1:1", 3)


def test_settings_file_values_are_checked_on_load(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"request_timeout": 45, "segment_size": 262144, "proxy": 7}))
    loaded = load_settings(path)
    assert (loaded.request_timeout, loaded.segment_size, loaded.proxy) == (45.0, 262144, "")
    path.write_text(json.dumps({"request_timeout": -1}))
    assert load_settings(path).request_timeout == 30.0


def test_service_proxy_and_segment_checks_say_what_is_accepted():
    assert check_service(" Sandbox ") == "sandbox"
    assert check_service(REAL_SERVICE_URL + "/") == REAL_SERVICE_URL
    assert check_service("http://localhost:8765/core") == "http://localhost:8765/core"
    with pytest.raises(SettingError, match="https://"):
        check_service("http://integritas.technology/core")
    assert parse_segment_size("1 MiB") == parse_segment_size("1m") == parse_segment_size("1048576")
    with pytest.raises(SettingError, match="64KiB"):
        parse_segment_size("2MiB")
    assert show_proxy("http://user:hunter2@proxy:8080") == "http://user:***@proxy:8080"
