"""Arena-Hard's spec (see :mod:`goodbadgreedy.benchmarks.arena_hard`)."""

from goodbadgreedy.benchmarks.spec import BenchmarkSpec

SPEC = BenchmarkSpec(
    name="arena_hard",
    raw_files=("question.jsonl", "o3-mini-2025-01-31.jsonl"),
    options={
        "games": {
            "enum": [1, 2],
            "default": 2,
            "description": "2: each response judged in both answer orders (arena-hard-auto); 1: baseline first only",
        },
    },
    uses_judge=True,
    extracts_answers=False,  # the judge's preference label
    n_items={"default": 10, "smoke": 2, "full": None},
    max_new_tokens={"default": 256, "smoke": 16, "full": 4096},
)
