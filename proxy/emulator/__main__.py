"""``python -m proxy.emulator``: see :mod:`proxy.emulator.cli`."""

import sys

from proxy.emulator.cli import main

sys.exit(main())
