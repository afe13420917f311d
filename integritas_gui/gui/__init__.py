"""The desktop window (PySide6): widgets, models and dialogs. The engine runs in a child process
(integritas_gui.engine_process); this package draws and reads."""
