"""``python -m player``: the same as the ``pieceplayer`` command, and the frozen app's entry script.

``freeze_support()`` comes before anything else: in the frozen app, the CommP hashing worker (a "spawn" process,
``proxy/verify.py``) starts this same executable, and only this call turns that start into a worker instead of a
second player window. Outside a frozen app it does nothing.
"""

import multiprocessing
import sys

multiprocessing.freeze_support()

from player.launch import main  # noqa: E402

sys.exit(main())
