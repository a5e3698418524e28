"""Small stage tables built from the project's schemas, shared by the tests that write and read them."""

from __future__ import annotations

import polars as pl

from goodbadgreedy import tables


def generations(n: int = 3) -> pl.DataFrame:
    """A valid generation table of ``n`` greedy rows (``tables.GENERATION_SCHEMA``), items ``i0..``."""
    rows = [{"model": "m", "benchmark": "gsm8k", "config": "greedy", "item_id": f"i{i}", "sample_idx": 0,
             "seed": None, "prompt": f"question {i}", "response": f"answer {i} " * 20, "prompt_tokens": 5,
             "response_tokens": 40, "finish_reason": "eos"} for i in range(n)]
    return pl.DataFrame(rows, schema=tables.GENERATION_SCHEMA)
