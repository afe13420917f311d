"""PyInstaller entry script for the windowed app (`integritas-gui`). Same as `python -m integritas_gui`.

On Linux the bundle holds this one program; `integritas` is a link to it, and a program started under
that name runs the command-line tool (integritas_gui.cli:main) instead, without importing Qt.
"""

import os
import sys

CLI_NAMES = ("integritas", "integritas.exe")


def main() -> int:
    if os.path.basename(sys.argv[0]).lower() in CLI_NAMES:
        from integritas_gui.cli import main as run
    else:
        from integritas_gui.__main__ import main as run
    return run()


if __name__ == "__main__":
    sys.exit(main())
