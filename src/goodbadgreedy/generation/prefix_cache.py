"""Automatic prefix caching for the ``hf`` engine: prompt chunks' keys/values by token ids.

See :class:`PrefixCache` and ``engine.PREFILL_CHUNK``. Imports torch only for its types.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class PrefixCache:
    """Keys/values of prompt chunks, found again from token ids (automatic prefix caching).

    A prompt is prefilled in chunks of ``chunk`` tokens aligned at position 0 (see
    ``engine.PREFILL_CHUNK``). The KV of every *full* chunk is stored under a node of a trie
    whose edges are whole chunks of token ids: the node of chunk ``i`` of a prompt is reached
    from the root through its chunks ``0..i``, so it stands for the exact token prefix
    ``ids[: (i + 1) * chunk]`` (as vLLM's block hashes chain a block's tokens to its parent's
    hash, and SGLang's radix tree keys nodes by token runs; here the key is the parent node's
    number and the chunk's token tuple itself, so two different prefixes never share a node).

    Eviction is least-recently-used, by bytes: a lookup or insert touches the chain from its
    deepest node back to the root, so a parent is always more recent than its children and an
    evicted node's children (unreachable from then on) go first or with it.

    Args:
        chunk: tokens per chunk (> 0).
        max_bytes: most bytes of keys/values kept (>= 0; 0 keeps nothing).
    """

    def __init__(self, chunk: int, max_bytes: int = 512 * 2**20) -> None:
        if chunk < 1 or max_bytes < 0:
            raise ValueError(f"PrefixCache: chunk={chunk} must be >= 1 and max_bytes={max_bytes} >= 0")
        self.chunk, self.max_bytes = chunk, max_bytes
        self._ids: dict[tuple[int, tuple[int, ...]], int] = {}  # (parent node, chunk tokens) -> node
        self._nodes: OrderedDict[int, tuple[tuple[int, tuple[int, ...]], list, int]] = OrderedDict()
        self._next = 1  # node 0 is the root (the empty prefix)
        self.bytes = 0
        self.hits = 0  # chunks served from the cache
        self.misses = 0  # full chunks computed and inserted

    def lookup(self, ids, limit: int) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """The cached chunks that start ``ids``, at most ``limit`` of them.

        Args:
            ids: the prompt's token ids.
            limit: most chunks to return.

        Returns:
            One entry per chunk, in order: per layer ``(k, v)`` of shape (kv_heads, chunk,
            head_dim). Stops at the first chunk not cached.
        """
        parent, found, chain = 0, [], []
        for i in range(min(limit, len(ids) // self.chunk)):
            node = self._ids.get((parent, tuple(ids[i * self.chunk : (i + 1) * self.chunk])))
            if node is None:
                break
            found.append(self._nodes[node][1])
            chain.append(node)
            parent = node
        self._touch(chain)
        self.hits += len(found)
        return found

    def insert(self, ids, index: int, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Store chunk ``index`` of ``ids`` (its chunks before must be cached, else nothing is stored).

        Args:
            ids: the prompt's token ids (at least ``(index + 1) * chunk`` of them).
            index: the chunk's number.
            kv: per layer ``(k, v)`` of shape (kv_heads, chunk, head_dim), owned by the cache
                from now on (pass copies, not views of a larger buffer).
        """
        parent, chain = 0, []
        for i in range(index):
            parent = self._ids.get((parent, tuple(ids[i * self.chunk : (i + 1) * self.chunk])), -1)
            if parent < 0:
                return
            chain.append(parent)
        key = (parent, tuple(ids[index * self.chunk : (index + 1) * self.chunk]))
        if key in self._ids:
            self._touch(chain + [self._ids[key]])
            return
        size = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)
        if size > self.max_bytes:
            return
        node, self._next = self._next, self._next + 1
        self._ids[key] = node
        self._nodes[node] = (key, kv, size)
        self.bytes += size
        self.misses += 1
        self._touch(chain + [node])
        while self.bytes > self.max_bytes:
            _, (old_key, _, old_size) = self._nodes.popitem(last=False)
            del self._ids[old_key]
            self.bytes -= old_size

    def _touch(self, chain: list[int]) -> None:
        for node in reversed(chain):  # the root end last: parents are more recent than children
            self._nodes.move_to_end(node)

    def __len__(self) -> int:
        """Number of chunks cached."""
        return len(self._nodes)
