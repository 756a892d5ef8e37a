"""PiecePlayer's range proxy: serves Filecoin pieces by byte range from a slice cache. Never imports Qt."""
