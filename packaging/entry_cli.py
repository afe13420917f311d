"""PyInstaller entry script for the console tool (`integritas`). Same as the `integritas` console script."""

import sys

from integritas_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
