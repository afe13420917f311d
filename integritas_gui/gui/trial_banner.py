"""The trial banner: shown whenever the app talks to the local sandbox, impossible to miss."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from integritas_gui.gui import theme


class TrialBanner(QFrame):
    """Shown whenever the app talks to the local sandbox. Meant to be impossible to miss."""

    use_key_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("trialBanner")
        self.setAccessibleName(self.tr("Trial mode"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 10, 8)
        layout.setSpacing(12)
        self.title = QLabel("\u26a0 " + self.tr("Sandbox: nothing here is on a real blockchain"), self)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.text = QLabel(self.tr(
            "Stamps go to a practice chain on this computer. Add your Integritas API key to stamp for real."),
            self)
        self.text.setWordWrap(True)
        self.button = QPushButton(self.tr("Use my API key\u2026"), self)
        self.button.setAccessibleName(self.tr("Use my API key"))
        self.button.clicked.connect(self.use_key_requested)
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addWidget(self.title)
        text.addWidget(self.text)
        layout.addLayout(text, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setAccessibleDescription(self.title.text() + ". " + self.text.text())
        self.restyle()

    def restyle(self) -> None:
        t = theme.tone("trial", QApplication.palette())
        style = (
            f"#trialBanner {{ background-color: {t.background.name()};"
            f" border: 2px solid {t.accent.name()}; border-radius: 6px; }}"
            f" #trialBanner QLabel {{ color: {t.foreground.name()}; background: transparent; }}"
        )
        if style != self.styleSheet():
            self.setStyleSheet(style)
