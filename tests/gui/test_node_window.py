"""The window with the user's own Minima node: trial mode's simulated node, "Stamp with: my Minima
node", the three verification levels in the detail panel, and the node settings."""

from __future__ import annotations

from integritas_gui.core.node_evidence import journal_entry
from integritas_gui.core.paths import app_dirs
from integritas_gui.core.secrets import NodePasswordStore, SecretStore
from integritas_gui.core.settings import Settings, load_settings
from integritas_gui.gui.settings_dialog import SettingsDialog
from tests.gui.test_main_window import make_file, show_details, stamp_and_confirm, wait_row
from tests.gui.test_settings_dialog import memory_keyring  # noqa: F401 (a fixture)


def levels_of(panel) -> dict:
    return {level.name: level for level in panel.levels_box.levels}


def sent_by_node(window, job_id: int) -> bool:
    """The engine process's journal of node sends (the simulated node runs in the sandbox process):
    this stamp was sent from the window's simulated node."""
    entry = journal_entry(window.services.history, job_id)
    assert entry is None or entry["node_url"] == window.services.sandbox.node_url
    return entry is not None and entry["state"] == "sent"


def test_stamp_with_my_node_in_trial_mode_shows_the_three_levels(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_SANDBOX_NODE_SEND_TIME", "0")
    window = make_window(stamp_with="node", node_confirmations=2)
    assert window.services.sandbox.node_url is not None
    path = make_file(tmp_path, "minutes.pdf")
    row = stamp_and_confirm(qtbot, window, path)
    assert sent_by_node(window, row.job_id)
    panel = show_details(qtbot, window, row.job_id, "confirmed")
    assert panel.levels_box.isVisible()
    levels = levels_of(panel)
    assert levels["node"].status == "pass" and levels["node"].details["confirmations"] >= 2
    assert levels["service"].status == "not_checked" and "your own node" in levels["service"].summary
    assert levels["local"].status == "pass"
    _, _, summary, proves = panel.levels_box.rows[2]
    assert "block" in summary.text() and proves.text().startswith("Proves:")
    # and the simulated service finds what the node sent
    window.add_paths([path], "verify")
    verify = wait_row(qtbot, window, path, {"done"}, kind="verify")
    panel = show_details(qtbot, window, verify.job_id, "done")
    assert levels_of(panel)["service"].status == "pass"
    assert levels_of(panel)["local"].status == "pass"


def test_a_file_stamped_through_the_service_is_verified_on_the_node_too(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "plain.pdf")
    row = stamp_and_confirm(qtbot, window, path)
    assert not sent_by_node(window, row.job_id)  # stamped by the (simulated) service
    levels = levels_of(show_details(qtbot, window, row.job_id, "confirmed"))
    assert levels["service"].status == "pass" and levels["node"].status == "not_checked"
    window.add_paths([path], "verify")
    verify = wait_row(qtbot, window, path, {"done"}, kind="verify")
    levels = levels_of(show_details(qtbot, window, verify.job_id, "done"))
    assert levels["service"].status == "pass"
    assert levels["node"].status == "pass" and levels["node"].details["block_number"] == row.block_number


def test_node_settings_are_saved_and_the_password_goes_to_the_keyring(qtbot, memory_keyring):
    dirs = app_dirs().create()
    settings = Settings()
    dialog = SettingsDialog(settings, SecretStore(dirs.config), settings_path=dirs.settings_file)
    qtbot.addWidget(dialog)
    group = dialog.node_group
    group.stamp_with.setCurrentIndex(group.stamp_with.findData("node"))
    group.url_edit.setText("http://127.0.0.1:9105")
    group.password_edit.setText("rpc-secret-1")
    group.depth_spin.setValue(5)
    dialog.accept()
    saved = load_settings(dirs.settings_file)
    assert (saved.stamp_with, saved.node_url, saved.node_confirmations) == ("node", "http://127.0.0.1:9105", 5)
    assert NodePasswordStore(dirs.config).get_password() == "rpc-secret-1"
    assert SecretStore(dirs.config).get_api_key() is None  # a separate entry from the API key
    assert "rpc-secret-1" not in dirs.settings_file.read_text()


def test_a_file_changed_after_a_node_stamp_fails_on_the_node_level_with_the_changed_bytes_shown_locally(
        qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_SANDBOX_NODE_SEND_TIME", "0")
    window = make_window(stamp_with="node", node_confirmations=1)
    path = make_file(tmp_path, "lease.pdf", size=300_000)
    stamp_and_confirm(qtbot, window, path)
    with open(path, "r+b") as handle:
        handle.seek(140_000)
        handle.write(b"rent: 9,999")
    window.add_paths([path], "verify")
    verify = wait_row(qtbot, window, path, {"done"}, kind="verify")
    levels = levels_of(show_details(qtbot, window, verify.job_id, "done"))
    assert levels["local"].status == "fail" and "131072-196607" in levels["local"].summary
    assert levels["service"].status == "fail"
    assert levels["node"].status == "fail" and "holds no stamp" in levels["node"].summary


def test_the_stamp_with_choice_in_the_window_switches_to_the_node(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_SANDBOX_NODE_SEND_TIME", "0")
    window = make_window()
    combo = window.stamp_with_combo
    assert combo.currentData() == "service"
    combo.setCurrentIndex(combo.findData("node"))
    qtbot.waitUntil(lambda: window.bridge.ready_info.get("stamp_with_node") is True, timeout=10_000)
    assert window.bridge.ready_info["node_url"] == window.services.sandbox.node_url
    assert load_settings(window.services.settings_path).stamp_with == "node"
    path = make_file(tmp_path, "switched.pdf")
    row = stamp_and_confirm(qtbot, window, path)
    assert sent_by_node(window, row.job_id)
