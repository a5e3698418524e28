"""Per-sample seeds.

Sample ``j`` of item ``i`` under decoding config ``c`` gets its own seed, derived from
(global seed, model, benchmark, item_id, config, j) by hashing, so that its text depends neither
on how many samples are drawn (N), nor on the batch it runs in, nor on its neighbours in that
batch. The config *name* enters the hash, not its parameters: two configs that differ only in
temperature draw from the same random stream (common random numbers), which makes paired
comparisons across a sweep less noisy. Greedy decoding needs no seed.
"""

from __future__ import annotations

import hashlib
import json

_MASK63 = (1 << 63) - 1


def derive_seed(global_seed: int, model: str, benchmark: str, item_id: str, config: str, sample_idx: int) -> int:
    """Return a 63-bit seed for one sample.

    Args:
        global_seed: ``params.yaml: seed``.
        model: the model's name, as in the tables.
        benchmark: the benchmark's name, as in the tables.
        item_id: the item's id, as in the tables.
        config: the decoding config's name, as in the tables.
        sample_idx: the sample's index j (0-based).

    Returns:
        An int in [0, 2**63), stable across processes, machines and Python versions (sha256 of a
        canonical JSON list, first 8 bytes big-endian, top bit cleared).
    """
    key = json.dumps([int(global_seed), model, benchmark, item_id, config, int(sample_idx)], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & _MASK63
