"""``python -m player``: the same as the ``pieceplayer`` command."""

import sys

from player.app import main

sys.exit(main())
