"""GSM8K's spec (see :mod:`goodbadgreedy.benchmarks.gsm8k`)."""

from goodbadgreedy.benchmarks.spec import BenchmarkSpec

SPEC = BenchmarkSpec(
    name="gsm8k",
    raw_files=("test.jsonl",),
    options={
        "n_shot": {"type": "integer", "minimum": 0, "maximum": 8, "default": 8,
                   "description": "chain-of-thought exemplars of Wei et al. (2022) before the question"},
    },
    # the start of an invented next question, and end-of-turn markers some chat templates leave as text
    stop_sequences=("Question:", "</s>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>"),
    n_items={"default": 60, "smoke": 2, "full": None},
    max_new_tokens={"default": 192, "smoke": 16, "full": 512},
)
