"""PyInstaller entry script for the windowed app (`integritas-gui`). Same as `python -m integritas_gui`."""

import sys

from integritas_gui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
