"""The memory tier: complete slices in RAM under one byte budget shared with the fetches' buffers."""

from __future__ import annotations

from collections import OrderedDict

from proxy.events import EventBus, SliceEvicted


class MemoryLRU:
    """Complete slices in RAM, least recently used evicted first, at most ``cap`` bytes.

    Slices being filled by a fetch count against the same cap (:meth:`reserve`): the memory tier and the fetch
    buffers are one budget, so a crowd of viewers whose fetches run at once makes the tier smaller instead of
    making the process bigger.
    """

    def __init__(self, cap: int, bus: EventBus) -> None:
        self.cap = cap
        self.used = 0
        #: Bytes of slice buffers being filled by fetches (they become complete slices, or are dropped).
        self.reserved = 0
        self._bus = bus
        self._items: OrderedDict[tuple[str, int], bytes | bytearray] = OrderedDict()

    def get(self, key: str, index: int) -> bytes | bytearray | None:
        data = self._items.get((key, index))
        if data is not None:
            self._items.move_to_end((key, index))
        return data

    def has(self, key: str, index: int) -> bool:
        return (key, index) in self._items

    def put(self, key: str, index: int, data: bytes | bytearray) -> None:
        if len(data) > self.cap:
            return
        old = self._items.pop((key, index), None)
        if old is not None:
            self.used -= len(old)
        self._items[(key, index)] = data
        self.used += len(data)
        self._evict_to(self.cap)

    def reserve(self, length: int) -> None:
        """A fetch starts filling a slice buffer of ``length`` bytes: make room for it."""
        self.reserved += length
        self._evict_to(self.cap)

    def release(self, length: int) -> None:
        """A reserved buffer became a complete slice (``put`` it next) or was dropped."""
        self.reserved -= length

    def _evict_to(self, budget: int) -> None:
        while self._items and self.used + self.reserved > budget:
            (k, i), evicted = self._items.popitem(last=False)
            self.used -= len(evicted)
            self._bus.publish(SliceEvicted(piece=k, index=i, tier="memory"))

    def indexes(self, key: str) -> set[int]:
        return {i for (k, i) in self._items if k == key}

    def discard_piece(self, key: str) -> None:
        for k, i in [item for item in self._items if item[0] == key]:
            self.used -= len(self._items.pop((k, i)))

    def clear(self) -> None:
        self._items.clear()
        self.used = 0
