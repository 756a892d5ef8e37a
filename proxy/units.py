"""Byte units, named once: sizes in this project are binary (a 1 MiB slice is 1,048,576 bytes)."""

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
