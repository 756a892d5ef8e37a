"""PiecePlayer's desktop GUI: a thin Qt shell over the range proxy in ``proxy/``."""
