"""A bar across a file's length: which byte ranges matched on chain, which changed since stamping."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from integritas_gui.gui import theme
from integritas_gui.gui.status_text import human_size


Range = tuple[int, int]  # (offset, length) in bytes


@dataclass(frozen=True)
class SegmentMapData:
    file_size: int
    matched: tuple[Range, ...] = ()  # ranges the service matched on chain (fileSegments)
    changed: tuple[Range, ...] | None = None  # differ from the receipt; None: no receipt known
    unchanged: tuple[Range, ...] | None = None  # same as the receipt
    segment_size: int | None = None
    segment_count: int | None = None


def _hatch(color: QColor) -> QBrush:
    return QBrush(color, Qt.BrushStyle.BDiagPattern)


class SegmentBar(QWidget):
    """The bar itself. Tooltips name the byte range under the pointer."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: SegmentMapData | None = None
        self.setMouseTracking(True)
        self.setMinimumHeight(28)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(self.tr("Segment map"))

    def sizeHint(self) -> QSize:
        return QSize(320, max(28, self.fontMetrics().height() * 2))

    def set_data(self, data: SegmentMapData | None) -> None:
        self.data = data
        self.setAccessibleDescription(describe(data) if data else "")
        self.update()

    def _bar_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(1, 1, -1, -1)

    def _x(self, offset: int, bar: QRectF) -> float:
        size = self.data.file_size if self.data else 0
        return bar.left() + (bar.width() * offset / size if size else 0)

    def _span(self, offset: int, length: int, bar: QRectF) -> QRectF:
        left, right = self._x(offset, bar), self._x(offset + length, bar)
        return QRectF(left, bar.top(), max(1.0, right - left), bar.height())

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = self._bar_rect()
        radius = 4.0
        clip = QPainterPath()
        clip.addRoundedRect(bar, radius, radius)
        painter.setClipPath(clip)
        palette = self.palette()
        painter.fillRect(bar, palette.color(palette.ColorRole.AlternateBase))
        painter.fillRect(bar, QBrush(palette.color(palette.ColorRole.Mid), Qt.BrushStyle.Dense6Pattern))
        data = self.data
        if data and data.file_size:
            for offset, length in data.unchanged or ():
                painter.fillRect(self._span(offset, length, bar), theme.tone("neutral", palette).accent)
            for offset, length in data.matched:
                painter.fillRect(self._span(offset, length, bar), theme.tone("good", palette).accent)
            bad = theme.tone("bad", palette).accent
            for offset, length in data.changed or ():
                left, right = self._x(offset, bar), self._x(offset + length, bar)
                area = QRectF(left, bar.top(), max(2.0, right - left), bar.height())
                painter.fillRect(area, bad)
                painter.fillRect(area, _hatch(QColor(255, 255, 255, 150)))
        painter.setClipping(False)
        painter.setPen(QPen(palette.color(palette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(bar, radius, radius)

    def describe_at(self, x: float) -> str:
        data = self.data
        if not data or not data.file_size:
            return ""
        bar = self._bar_rect()
        fraction = min(max((x - bar.left()) / bar.width(), 0.0), 1.0) if bar.width() else 0.0
        offset = min(int(fraction * data.file_size), data.file_size - 1)
        for start, length in data.changed or ():
            if start <= offset < start + length:
                return self.tr("{where}: changed since it was stamped").format(
                    where=self._where(start, length))
        for start, length in data.matched:
            if start <= offset < start + length:
                return self.tr("{where}: matches what is on chain").format(where=self._where(start, length))
        for start, length in data.unchanged or ():
            if start <= offset < start + length:
                return self.tr("{where}: unchanged since it was stamped").format(
                    where=self._where(start, length))
        return self.tr("Byte {offset}: no on-chain match").format(offset=f"{offset:,}")

    def _where(self, start: int, length: int) -> str:
        end = start + length - 1
        text = self.tr("Bytes {start}\u2013{end}").format(start=f"{start:,}", end=f"{end:,}")
        size = self.data.segment_size if self.data else None
        if size:
            first, last = start // size + 1, end // size + 1
            segments = (self.tr("segment {n}").format(n=first) if first == last
                        else self.tr("segments {a}\u2013{b}").format(a=first, b=last))
            text += f" ({segments})"
        return text

    def mouseMoveEvent(self, event):
        text = self.describe_at(event.position().x())
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        super().mouseMoveEvent(event)


def describe(data: SegmentMapData) -> str:
    """One sentence summary of the map (also the screen-reader description)."""
    matched = sum(length for _, length in data.matched)
    parts = []
    if data.file_size:
        if matched >= data.file_size:
            parts.append(QWidget.tr("The whole file matches what is on chain."))
        elif matched:
            parts.append(QWidget.tr("{matched} of {size} match what is on chain.").format(
                matched=human_size(matched), size=human_size(data.file_size)))
        else:
            parts.append(QWidget.tr("No part of the file matches what is on chain."))
    if data.changed is not None:
        if data.changed:
            changed = sum(length for _, length in data.changed)
            if data.segment_size and data.segment_count:
                count = sum(
                    (offset + length - 1) // data.segment_size - offset // data.segment_size + 1
                    for offset, length in data.changed
                )
                parts.append(QWidget.tr(
                    "{count} of {total} segments ({size}) changed since it was stamped.").format(
                    count=count, total=data.segment_count, size=human_size(changed)))
            else:
                parts.append(QWidget.tr("{size} changed since it was stamped.").format(
                    size=human_size(changed)))
        else:
            parts.append(QWidget.tr("No segment changed since it was stamped."))
    return " ".join(parts)


class _Swatch(QWidget):
    def __init__(self, tone_name: str | None, hatched: bool, parent=None):
        super().__init__(parent)
        self.tone_name, self.hatched = tone_name, hatched
        side = self.fontMetrics().height() - 2
        self.setFixedSize(side, side)

    def paintEvent(self, event):
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        palette = self.palette()
        if self.tone_name:
            painter.fillRect(rect, theme.tone(self.tone_name, palette).accent)
            if self.hatched:
                painter.fillRect(rect, _hatch(QColor(255, 255, 255, 150)))
        else:
            painter.fillRect(rect, palette.color(palette.ColorRole.AlternateBase))
            painter.fillRect(rect, QBrush(palette.color(palette.ColorRole.Mid), Qt.BrushStyle.Dense6Pattern))
        painter.setPen(palette.color(palette.ColorRole.Mid))
        painter.drawRect(rect)


class SegmentMap(QWidget):
    """The bar, its byte scale, a legend and a one-line summary."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.bar = SegmentBar(self)
        layout.addWidget(self.bar)
        scale = QHBoxLayout()
        self.start_label = QLabel("0", self)
        self.end_label = QLabel("", self)
        for label in (self.start_label, self.end_label):
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        scale.addWidget(self.start_label)
        scale.addStretch(1)
        scale.addWidget(self.end_label)
        layout.addLayout(scale)
        legend = QGridLayout()  # two columns, so the legend fits a narrow panel
        legend.setHorizontalSpacing(6)
        legend.setVerticalSpacing(2)
        self._receipt_legend: list[QWidget] = []
        self._legend_items: list[QLabel] = []
        for tone_name, hatched, text in (
            ("good", False, self.tr("Matched on chain")),
            ("neutral", False, self.tr("Unchanged since stamping")),
            ("bad", True, self.tr("Changed since stamping")),
            (None, False, self.tr("No match")),
        ):
            swatch, label = _Swatch(tone_name, hatched, self), QLabel(text, self)
            position = len(self._legend_items)
            row, column = divmod(position, 2)
            legend.addWidget(swatch, row, column * 2)
            legend.addWidget(label, row, column * 2 + 1)
            self._legend_items.append(label)
            if tone_name in ("neutral", "bad"):
                self._receipt_legend += [swatch, label]
        legend.setColumnStretch(1, 1)
        legend.setColumnStretch(3, 1)
        layout.addLayout(legend)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)

    def set_data(self, data: SegmentMapData | None) -> None:
        self.bar.set_data(data)
        self.end_label.setText(human_size(data.file_size) if data else "")
        self.summary.setText(describe(data) if data else "")
        for widget in self._receipt_legend:
            widget.setVisible(bool(data and data.changed is not None))

