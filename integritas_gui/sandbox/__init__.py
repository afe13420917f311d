"""A local Integritas-compatible service (simulated Minima chain) for trials and tests."""

from integritas_gui.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
