"""AlpacaEval 2's spec (see :mod:`goodbadgreedy.benchmarks.alpaca_eval`)."""

from goodbadgreedy.benchmarks.spec import BenchmarkSpec

SPEC = BenchmarkSpec(
    name="alpaca_eval",
    raw_files=("alpaca_eval_gpt4_baseline.json",),
    options={},
    uses_judge=True,
    extracts_answers=False,  # the judge's preference label
    n_items={"default": 10, "smoke": 2, "full": None},
    max_new_tokens={"default": 256, "smoke": 16, "full": 2048},
)
