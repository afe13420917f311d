"""Integritas Desktop: timestamp files on the Minima blockchain and verify them later."""

__version__ = "0.1.0"
APP_NAME = "Integritas Desktop"
APP_ID = "integritas-desktop"
