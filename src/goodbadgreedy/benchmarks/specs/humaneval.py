"""HumanEval's spec (see :mod:`goodbadgreedy.benchmarks.humaneval`)."""

from goodbadgreedy.benchmarks.spec import BenchmarkSpec

SPEC = BenchmarkSpec(
    name="humaneval",
    raw_files=("HumanEval.jsonl.gz",),
    options={
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10, "description": "CPU seconds per program"},
        "memory_mb": {
            "type": "integer",
            "minimum": 64,
            "default": 1024,
            "description": "address-space MiB per program",
        },
        "workers": {"type": "integer", "minimum": 1, "default": 2, "description": "programs run in parallel"},
    },
    # Chen et al. (2021), Sec. 3.2, plus the closing Markdown fence
    stop_sequences=("\nclass", "\ndef", "\n#", "\nif", "\nprint", "\n```"),
    n_items={"default": 60, "smoke": 2, "full": None},
    max_new_tokens={"default": 256, "smoke": 24, "full": 512},
)
