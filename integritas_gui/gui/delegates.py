"""Item delegates for the queue table."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from integritas_gui.gui.queue_model import PROGRESS_ROLE


class ProgressDelegate(QStyledItemDelegate):
    """Draws the row's progress (PROGRESS_ROLE, 0..100 or -1) as a native progress bar."""

    def paint(self, painter, option, index):
        QStyledItemDelegate.paint(self, painter, option, index)  # selection background
        value = index.data(PROGRESS_ROLE)
        if value is None or value < 0:
            return
        bar = QStyleOptionProgressBar()
        margin_v = max(3, (option.rect.height() - option.fontMetrics.height()) // 2)
        bar.rect = QRect(option.rect).adjusted(4, margin_v, -4, -margin_v)
        bar.minimum, bar.maximum, bar.progress = 0, 100, int(value)
        bar.text = f"{int(value)}%"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
