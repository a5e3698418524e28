"""MixEval's spec (see :mod:`goodbadgreedy.benchmarks.mixeval`)."""

from typing import Any, Mapping

from goodbadgreedy.benchmarks.spec import BenchmarkSpec


def _extracts_answers(options: Mapping[str, Any]) -> bool:
    # the judge extracts the chosen option (an answer) on multiple choice only; free-form: a score
    return options.get("split") == "multiple_choice"


SPEC = BenchmarkSpec(
    name="mixeval",
    raw_files=("free-form.json", "multiple-choice.json"),
    options={
        "split": {"enum": ["both", "free_form", "multiple_choice"], "default": "both",
                  "description": "MixEval's score is over both files"},
    },
    uses_judge=True,
    extracts_answers=_extracts_answers,
    n_items={"default": 20, "smoke": 2, "full": None},
    max_new_tokens={"default": 128, "smoke": 16, "full": 512},
)
