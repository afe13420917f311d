"""Settings for the user's own Minima node: its RPC address, its RPC password (kept in the keyring
like the API key), the confirmation depth, and what the window stamps with."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QSpinBox, QWidget

from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.settings import DEFAULT_NODE_URL, MAX_NODE_CONFIRMATIONS

log = logging.getLogger(__name__)

STAMP_WITH_CHOICES = (("service", "Integritas service"), ("node", "my Minima node"))


class NodeSettingsGroup(QGroupBox):
    def __init__(self, settings, config_dir, parent: QWidget | None = None):
        super().__init__(parent)
        from integritas_gui.core.secrets import NodePasswordStore

        self.setTitle(self.tr("Your own Minima node"))
        self.setObjectName("nodeSettings")
        self.store = NodePasswordStore(config_dir)
        form = QFormLayout(self)
        self.stamp_with = QComboBox(self)
        for value, label in STAMP_WITH_CHOICES:
            self.stamp_with.addItem(self.tr(label), value)
        form.addRow(self.tr("Stamp &with:"), self.stamp_with)
        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText(DEFAULT_NODE_URL)
        form.addRow(self.tr("Node &RPC:"), self.url_edit)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText(self.tr("the node's -rpcpassword, if it has one"))
        form.addRow(self.tr("RPC pass&word:"), self.password_edit)
        self.depth_spin = QSpinBox(self)
        self.depth_spin.setRange(1, MAX_NODE_CONFIRMATIONS)
        self.depth_spin.setSuffix(self.tr(" blocks"))
        form.addRow(self.tr("Con&firmed after:"), self.depth_spin)
        hint = QLabel(self.tr("Start the node with -rpcenable. Stamps sent from your node need no API key "
                              "and no plan; each costs 0.000000000000001 Minima."), self)
        hint.setWordWrap(True)
        form.addRow("", hint)
        index = self.stamp_with.findData(getattr(settings, "stamp_with", "service"))
        self.stamp_with.setCurrentIndex(max(0, index))
        self.url_edit.setText(settings.node_url)
        self.depth_spin.setValue(max(1, int(settings.node_confirmations)))
        self.password_edit.setText(self.store.get_password() or "")

    def values(self) -> dict:
        return {"stamp_with": self.stamp_with.currentData(),
                "node_url": self.url_edit.text().strip() or DEFAULT_NODE_URL,
                "node_confirmations": self.depth_spin.value()}

    def store_password(self) -> str | None:
        """Save the password where the API key goes; an error message when it cannot."""
        password = self.password_edit.text()
        if password == (self.store.get_password() or ""):
            return None
        try:
            if password:
                self.store.set_password(password)
            else:
                self.store.delete_api_key()
        except IntegritasError as exc:
            return exc.message
        except Exception as exc:  # a broken keyring service
            log.warning("Could not store the node password: %s", type(exc).__name__)
            return self.tr("The keyring refused the node password (%s).") % type(exc).__name__
        return None


def stamp_with_combo(parent: QWidget, settings) -> QComboBox:
    """The window's "Stamp with: Integritas service | my Minima node" choice."""
    combo = QComboBox(parent)
    combo.setObjectName("stampWith")
    for value, label in STAMP_WITH_CHOICES:
        combo.addItem(combo.tr(label), value)
    combo.setToolTip(combo.tr("Where stamps are sent from: the Integritas service (API key), or your own "
                              "Minima node (no key, no plan; set its address in Settings)"))
    combo.setAccessibleName(combo.tr("Stamp with"))
    combo.setCurrentIndex(max(0, combo.findData(getattr(settings, "stamp_with", "service"))))
    return combo
