"""The detail panel's three verification levels: local, service, your own node, each with a mark,
what was found and (in its tooltip and below) what it proves."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from integritas_gui.gui import theme

TITLES = {"local": "Local", "service": "Service", "node": "Your node"}
MARKS = {"pass": ("✓", "good"), "fail": ("✗", "bad"), "unavailable": ("?", "partial"),
         "not_checked": ("–", "neutral")}


class LevelsBox(QFrame):
    """Rows of (mark, level, summary); the "proves" text of each level under it, smaller."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("verificationLevels")
        self.setAccessibleName(self.tr("Verification levels"))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 0)
        outer.setSpacing(4)
        title = QLabel(self.tr("Verification levels"), self)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        outer.addWidget(title)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(2, 1)
        outer.addLayout(self.grid)
        self.rows: list[tuple[QLabel, QLabel, QLabel, QLabel]] = []
        self.levels: tuple = ()

    def set_levels(self, levels: tuple) -> None:
        self.levels = tuple(levels)
        self.setVisible(bool(self.levels))
        while len(self.rows) < len(self.levels):
            index = len(self.rows)
            mark, name, summary, proves = (QLabel(self) for _ in range(4))
            for label in (summary, proves):
                label.setWordWrap(True)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            mark.setAlignment(Qt.AlignmentFlag.AlignCenter)
            mark.setFixedWidth(22)
            bold = name.font()
            bold.setBold(True)
            name.setFont(bold)
            small = proves.font()
            small.setPointSizeF(small.pointSizeF() * 0.88)
            proves.setFont(small)
            proves.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self.grid.addWidget(mark, index * 2, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(name, index * 2, 1, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(summary, index * 2, 2)
            self.grid.addWidget(proves, index * 2 + 1, 2)
            self.rows.append((mark, name, summary, proves))
        for index, widgets in enumerate(self.rows):
            shown = index < len(self.levels)
            for widget in widgets:
                widget.setVisible(shown)
            if not shown:
                continue
            level = self.levels[index]
            mark, name, summary, proves = widgets
            symbol, tone_name = MARKS.get(level.status, ("–", "neutral"))
            mark.setText(symbol)
            mark.setStyleSheet(theme.tone_style(tone_name, mark, radius=4))
            name.setText(self.tr(TITLES.get(level.name, level.name)))
            summary.setText(level.summary)
            proves.setText(self.tr("Proves: ") + level.proves)
            mark.setAccessibleName(f"{TITLES.get(level.name, level.name)}: {level.status}")
