"""PiecePlayer's desktop GUI: a thin Qt shell over the range proxy in ``proxy/``."""

__version__ = "0.1.0"
