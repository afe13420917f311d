"""The side panel: the evidence for the job selected in the queue.

A result banner (words + symbol + colour), the file's hash, every on-chain record with copy buttons
and Minima explorer links, the segment map, and the report/certificate actions.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QUrl, Qt, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
    QPushButton, QScrollArea, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from integritas_gui.gui import status_text as st
from integritas_gui.gui import theme
from integritas_gui.core.model import ChainRecord
from integritas_gui.gui.job_details import JobDetails
from integritas_gui.gui.levels_box import LevelsBox
from integritas_gui.gui.segment_map import SegmentMap

EXPLORER_BLOCK = "https://explorer.minima.global/blocks/{}"
EXPLORER_TRANSACTION = "https://explorer.minima.global/transactions/{}"


def short_id(value: str | None, head: int = 6, tail: int = 4) -> str:
    if not value:
        return ""
    return value if len(value) <= head + tail + 1 else f"{value[:head]}\u2026{value[-tail:]}"


def group_hash(value: str | None, size: int = 8) -> str:
    """'ab12cd34 ef56...' for display; copying uses the plain value."""
    if not value:
        return ""
    return " ".join(value[i:i + size] for i in range(0, len(value), size))


def banner_for(details: JobDetails, status_line: str) -> tuple[str, str, str, str]:
    """(tone, symbol, title, explanation) for a job, in plain words; a finished verification's
    note (e.g. the report that did not come) follows its result."""
    tone, symbol, title, text = _banner(details, status_line)
    if details.state == "done" and details.error:
        text = f"{text} {details.error}"
    return tone, symbol, title, text


def _banner(details: JobDetails, status_line: str) -> tuple[str, str, str, str]:
    tr = st.tr
    records = len(details.records)
    check = details.receipt_check or {}
    changed_note = ""
    if check.get("status") == "changed":
        changed_note = " " + tr("The file has changed since it was stamped: the segment map shows where.")
    if details.state == "failed":
        return "bad", "\u2718", tr("Failed"), details.error or tr("Something went wrong.")
    if details.state == "cancelled":
        return "neutral", "\u25a0", tr("Cancelled"), details.error or tr("Stopped before it finished.")
    if details.kind == "stamp":
        if details.state == "confirmed":
            when = st.local_time(details.block_date, with_date=True)
            text = (tr("Anchored on the Minima blockchain in block {block} at {time}.").format(
                block=st.block_text(details.block_number), time=when) if details.block_number is not None
                else tr("Anchored on the Minima blockchain."))
            return "good", "\u2714", tr("Confirmed on chain"), text
        if details.state == "pending":
            return ("neutral", "\u25f7", tr("Pending on chain"),
                    details.error or tr("Sent to Integritas. Waiting for the next Minima block; "
                                        "this usually takes about a minute."))
    if details.state == "done":
        outcome = details.outcome or "unknown"
        if details.kind == "check":
            if outcome == "found":
                return "good", "\u2714", tr("Found on chain"), tr("This hash is on the Minima blockchain.")
            if outcome == "not found":
                return "bad", "\u2718", tr("Not found on chain"), tr(
                    "This hash is not on the Minima blockchain (or not yet: a new stamp takes about a minute).")
        if outcome == "full match":
            plural = tr("once") if records == 1 else tr("{n} times").format(n=records)
            text = tr("This exact file was anchored on the Minima blockchain {times}.").format(times=plural)
            if records:
                oldest = min(details.records, key=lambda r: r.block_number or 0)
                text += " " + tr("First in block {block} on {date}.").format(
                    block=st.block_text(oldest.block_number), date=st.local_time(oldest.block_date, with_date=True))
            return "good", "\u2714", tr("Full match"), text
        if outcome == "partial match":
            return "partial", "\u25d0", tr("Partial match"), tr(
                "Parts of this file match what is on chain; the segment map shows which.") + changed_note
        if outcome == "no match":
            return "bad", "\u2718", tr("No match"), tr(
                "This file's hash is not on the Minima blockchain.") + changed_note
        return "partial", "?", tr("Unknown answer"), tr(
            "The service answered in a way this app does not understand. Try again later.")
    return "neutral", "\u2026", status_line, {
        "queued": tr("Waiting for its turn."),
        "hashing": tr("Computing the file's fingerprint on this computer. The file never leaves it."),
        "hashed": details.error or tr("Fingerprint ready."),
        "submitting": tr("Talking to Integritas\u2026"),
    }.get(details.state, "")


class ResultBanner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultBanner")
        self.setAccessibleName(self.tr("Result"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(12)
        self.symbol = QLabel(self)
        font = self.symbol.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.symbol.setFont(font)
        self.symbol.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.symbol.setMinimumWidth(self.symbol.fontMetrics().horizontalAdvance("\u2714") + 8)
        layout.addWidget(self.symbol, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(2)
        self.title = QLabel(self)
        title_font = self.title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.25)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(self.title)
        text.addWidget(self.text)
        layout.addLayout(text, 1)
        self.tone_name = "neutral"

    def show_result(self, tone_name: str, symbol: str, title: str, text: str) -> None:
        self.tone_name = tone_name
        self.symbol.setText(symbol)
        self.title.setText(title)
        self.text.setText(text)
        self.text.setVisible(bool(text))
        self.setAccessibleDescription(f"{title}. {text}")
        self.restyle()

    def restyle(self) -> None:
        t = theme.tone(self.tone_name, QApplication.palette())
        style = (
            f"#resultBanner {{ background-color: {t.background.name()};"
            f" border-left: 5px solid {t.accent.name()}; border-radius: 6px; }}"
            f" #resultBanner QLabel {{ color: {t.foreground.name()}; background: transparent; }}"
        )
        if style != self.styleSheet():
            self.setStyleSheet(style)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.restyle()


def _section_title(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class RecordsTable(QTableWidget):
    """Every on-chain record of the file; double-click an id to open it in the Minima explorer."""

    open_url = Signal(str)
    COLUMNS = ("Block", "Date (local)", "TxPoW id", "Transaction id", "Matched hash")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels([self.tr(c) for c in self.COLUMNS])
        self.setAccessibleName(self.tr("On-chain records"))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.cellActivated.connect(self._activated)
        self.records: tuple[ChainRecord, ...] = ()

    def set_records(self, records: tuple[ChainRecord, ...]) -> None:
        self.records = records
        self.setRowCount(len(records))
        mono = theme.monospace_font()
        link_colour = self.palette().color(self.palette().ColorRole.Link)
        for row, rec in enumerate(records):
            values = (
                (st.block_text(rec.block_number), None),
                (st.local_time(rec.block_date, with_date=True), None),
                (short_id(rec.txpow_id), rec.txpow_id),
                (short_id(rec.transaction_id), rec.transaction_id),
                (short_id(rec.matched_hash, 8, 6), rec.matched_hash),
            )
            for column, (text, full) in enumerate(values):
                item = QTableWidgetItem(text)
                if full:
                    item.setFont(mono)
                    hint = "" if column == 4 else "\n" + self.tr("Double-click to open in the Minima explorer")
                    item.setToolTip(full + hint)
                    if column in (2, 3):
                        item.setForeground(link_colour)
                if column == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, column, item)
        if records:
            self.selectRow(0)
        self.resizeColumnsToContents()
        self.resizeRowsToContents()
        rows_shown = min(max(len(records), 1), 6)
        height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth() + 2
        height += sum(self.rowHeight(r) for r in range(rows_shown)) if records else self.fontMetrics().height() * 2
        # Room for the horizontal scroll bar, which a narrow panel needs for the id columns.
        height += self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(height)

    def current_record(self) -> ChainRecord | None:
        row = self.currentRow()
        if 0 <= row < len(self.records):
            return self.records[row]
        return self.records[0] if self.records else None

    def _activated(self, row: int, column: int) -> None:
        rec = self.records[row]
        if column == 2 and rec.txpow_id:
            self.open_url.emit(EXPLORER_BLOCK.format(rec.txpow_id))
        elif column in (1, 3) and rec.transaction_id:
            self.open_url.emit(EXPLORER_TRANSACTION.format(rec.transaction_id))
        elif rec.txpow_id:
            self.open_url.emit(EXPLORER_BLOCK.format(rec.txpow_id))


class DetailPanel(QScrollArea):
    """Shows one job. The window feeds it ``JobDetails`` and reacts to its requests."""

    report_requested = Signal(int)  # job id: verify again with a PDF report
    certificate_requested = Signal(int)
    save_report_requested = Signal(str)  # report path
    copied = Signal(str)  # what was put on the clipboard, for the status bar

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName(self.tr("Details of the selected file"))
        self.setMinimumWidth(360)
        self.details: JobDetails | None = None
        body = QWidget(self)
        self.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(10)

        self.placeholder = QLabel(self.tr("Select a file in the queue to see its evidence here."), body)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.placeholder)

        self.content = QWidget(body)
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.setSpacing(10)
        layout.addWidget(self.content, 1)

        self.name_label = QLabel(self.content)
        name_font = self.name_label.font()
        name_font.setPointSizeF(name_font.pointSizeF() * 1.3)
        name_font.setBold(True)
        self.name_label.setFont(name_font)
        self.name_label.setWordWrap(True)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label = QLabel(self.content)
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        content.addWidget(self.name_label)
        content.addWidget(self.path_label)

        self.banner = ResultBanner(self.content)
        content.addWidget(self.banner)
        self.levels_box = LevelsBox(self.content)
        content.addWidget(self.levels_box)

        hash_row = QHBoxLayout()
        hash_row.setSpacing(8)
        hash_caption = QLabel(self.tr("SHA3-256"), self.content)
        hash_caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # The whole hash, in groups of eight so it wraps and reads like a fingerprint.
        self.hash_field = QLabel(self.content)
        self.hash_field.setFont(theme.monospace_font())
        self.hash_field.setWordWrap(True)
        self.hash_field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                                | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.hash_field.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hash_field.setAccessibleName(self.tr("SHA3-256 hash of the file"))
        self.copy_hash_button = QPushButton(self.tr("Copy"), self.content)
        self.copy_hash_button.setAccessibleName(self.tr("Copy hash"))
        self.copy_hash_button.setToolTip(self.tr("Copy the SHA3-256 hash (Ctrl+C)"))
        self.copy_hash_button.clicked.connect(self.copy_hash)
        hash_row.addWidget(hash_caption, 0, Qt.AlignmentFlag.AlignTop)
        hash_row.addWidget(self.hash_field, 1)
        hash_row.addWidget(self.copy_hash_button, 0, Qt.AlignmentFlag.AlignTop)
        content.addLayout(hash_row)

        self.records_title = _section_title(self.tr("On-chain records"), self.content)
        self.records = RecordsTable(self.content)
        self.records.open_url.connect(self.open_url)
        records_buttons = QGridLayout()
        records_buttons.setHorizontalSpacing(6)
        records_buttons.setVerticalSpacing(6)
        self.copy_txpow_button = QPushButton(self.tr("Copy TxPoW id"), self.content)
        self.copy_txn_button = QPushButton(self.tr("Copy transaction id"), self.content)
        self.open_block_button = QPushButton(self.tr("Open block in explorer \u2197"), self.content)
        self.open_txn_button = QPushButton(self.tr("Open transaction in explorer \u2197"), self.content)
        self.copy_txpow_button.clicked.connect(lambda: self._copy_record_field("txpow_id"))
        self.copy_txn_button.clicked.connect(lambda: self._copy_record_field("transaction_id"))
        self.open_block_button.clicked.connect(lambda: self._open_record(EXPLORER_BLOCK, "txpow_id"))
        self.open_txn_button.clicked.connect(
            lambda: self._open_record(EXPLORER_TRANSACTION, "transaction_id"))
        records_buttons.addWidget(self.copy_txpow_button, 0, 0)
        records_buttons.addWidget(self.open_block_button, 0, 1)
        records_buttons.addWidget(self.copy_txn_button, 1, 0)
        records_buttons.addWidget(self.open_txn_button, 1, 1)
        self.records_box = QWidget(self.content)
        records_layout = QVBoxLayout(self.records_box)
        records_layout.setContentsMargins(0, 6, 0, 0)
        records_layout.setSpacing(6)
        records_layout.addWidget(self.records_title)
        records_layout.addWidget(self.records)
        records_layout.addLayout(records_buttons)
        content.addWidget(self.records_box)

        self.segments_box = QWidget(self.content)
        segments_layout = QVBoxLayout(self.segments_box)
        segments_layout.setContentsMargins(0, 6, 0, 0)
        segments_layout.setSpacing(6)
        segments_layout.addWidget(_section_title(self.tr("File segments"), self.segments_box))
        self.segment_map = SegmentMap(self.segments_box)
        segments_layout.addWidget(self.segment_map)
        content.addWidget(self.segments_box)

        actions = QGridLayout()
        actions.setHorizontalSpacing(6)
        actions.setVerticalSpacing(6)
        self.report_button = QPushButton(self.tr("Get PDF report"), self.content)
        self.report_button.setToolTip(self.tr(
            "Ask Integritas for its verification report (this also records the verification on chain)"))
        self.open_report_button = QPushButton(self.tr("Open report"), self.content)
        self.save_report_button = QPushButton(self.tr("Save report as\u2026"), self.content)
        self.certificate_button = QPushButton(self.tr("Save certificate\u2026"), self.content)
        self.certificate_button.setToolTip(self.tr(
            "Save this app's own PDF certificate, readable offline, with the receipt inside"))
        self.report_button.clicked.connect(self._request_report)
        self.open_report_button.clicked.connect(self._open_report)
        self.save_report_button.clicked.connect(self._save_report)
        self.certificate_button.clicked.connect(self._request_certificate)
        actions.addWidget(self.report_button, 0, 0)
        actions.addWidget(self.certificate_button, 0, 1)
        actions.addWidget(self.open_report_button, 1, 0)
        actions.addWidget(self.save_report_button, 1, 1)
        content.addLayout(actions)
        content.addStretch(1)
        for button in body.findChildren(QPushButton):
            button.setAccessibleName(button.accessibleName() or button.text().rstrip("\u2026 \u2197"))
        self.set_details(None)

    # ---- filling -------------------------------------------------------------------------------
    def set_details(self, details: JobDetails | None, status_line: str = "") -> None:
        self.details = details
        self.placeholder.setVisible(details is None)
        self.content.setVisible(details is not None)
        if details is None:
            return
        self.name_label.setText(details.name or self.tr("Pasted hash"))
        self.path_label.setText(details.path or "")
        self.path_label.setVisible(bool(details.path))
        self.banner.show_result(*banner_for(details, status_line or details.state))
        self.levels_box.set_levels(details.levels if details.state in ("confirmed", "done") else ())
        self.hash_field.setText(group_hash(details.sha3_256))
        self.hash_field.setAccessibleDescription(details.sha3_256 or "")
        self.copy_hash_button.setEnabled(bool(details.sha3_256))
        show_records = bool(details.records)
        self.records_box.setVisible(show_records)
        if show_records:
            self.records_title.setText(self.tr("On-chain records ({n})").format(n=len(details.records)))
            self.records.set_records(details.records)
        has_ids = show_records and any(r.txpow_id for r in details.records)
        for button in (self.copy_txpow_button, self.open_block_button):
            button.setEnabled(has_ids)
        has_txn = show_records and any(r.transaction_id for r in details.records)
        for button in (self.copy_txn_button, self.open_txn_button):
            button.setEnabled(has_txn)
        segment_data = details.segment_map() if details.kind == "verify" and details.state == "done" else None
        self.segments_box.setVisible(segment_data is not None)
        self.segment_map.set_data(segment_data)
        can_report = ((details.kind == "verify" and details.state == "done")
                      or (details.kind == "stamp" and details.state == "confirmed"))
        self.report_button.setVisible(can_report and bool(details.sha3_256))
        has_report = bool(details.report_path)
        self.open_report_button.setVisible(has_report)
        self.save_report_button.setVisible(has_report)
        self.certificate_button.setVisible(
            bool(details.path) and details.state in ("confirmed", "done") and details.kind != "check")

    def update_status(self, details_state: str, status_line: str) -> None:
        """Live status for the shown job without a history read (hashing progress, pending time)."""
        if self.details is None or self.details.state != details_state:
            return
        if details_state in ("queued", "hashing", "submitting", "pending") and not self.details.error:
            tone_name, symbol, _, text = banner_for(self.details, status_line)
            self.banner.show_result(tone_name, symbol, status_line, text)

    # ---- actions -------------------------------------------------------------------------------
    def copy_text(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)

    def copy_hash(self) -> None:
        if self.details and self.details.sha3_256:
            self.copy_text(self.details.sha3_256)

    def _copy_record_field(self, field: str) -> None:
        record = self.records.current_record()
        if record and getattr(record, field):
            self.copy_text(getattr(record, field))

    def _open_record(self, pattern: str, field: str) -> None:
        record = self.records.current_record()
        if record and getattr(record, field):
            self.open_url(pattern.format(getattr(record, field)))

    def open_url(self, url: str) -> None:
        QDesktopServices.openUrl(QUrl(url))

    def _request_report(self) -> None:
        if self.details:
            self.report_requested.emit(self.details.job_id)

    def _request_certificate(self) -> None:
        if self.details:
            self.certificate_requested.emit(self.details.job_id)

    def _open_report(self) -> None:
        if self.details and self.details.report_path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.details.report_path))

    def _save_report(self) -> None:
        if self.details and self.details.report_path:
            self.save_report_requested.emit(self.details.report_path)

