"""Self-consistency scorer: a sample's score is the vote share of its extracted answer.

For item ``i`` with ``n_i`` samples and extracted answers ``a_1..a_{n_i}`` (the check table's
``extracted`` column; null when the answer could not be parsed):

    score(j) = #{k : a_k == a_j} / n_i   if a_j is not null,      0   otherwise.

So a parseable answer scores at least ``1/n_i`` and an unparseable one gets the lowest score, 0.
Picking the highest-scoring sample is majority voting (Wang et al. 2023, "Self-Consistency
Improves Chain of Thought Reasoning in Language Models", arXiv:2203.11171).

Ties: answers with equal vote counts get exactly equal scores; the score itself breaks no tie.
The Best-of-N estimators then break them deterministically: ``unbiased`` averages over the tied
samples (the exact expectation under a uniformly random pick, see
:mod:`goodbadgreedy.stats.best_of_n`), ``first`` keeps the earliest sample index.

Answers are compared as strings exactly as the check stage extracted them (GSM8K: canonical
number, MMLU-Redux: letter; HumanEval: the completion's text, so votes there count identical
programs only, a weak signal the paper does not use).

Note: the vote shares come from all ``n_i`` samples of the item, so Best-of-N with this scorer
at ``N < n_i`` uses votes from outside the N-subset; it is "the sample the full majority
agrees with", not majority voting within N samples (for that, use
:func:`goodbadgreedy.stats.estimators.maj_at_k`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from goodbadgreedy import benchmarks
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.reranking.base import Scores, ScoringInputs


def vote_shares(item_ids: Sequence[str], answers: Sequence[str | None]) -> np.ndarray:
    """Vote share of each sample's answer among its item's samples (pure).

    Args:
        item_ids: the item of each sample, length ``n_rows`` (any order; samples of an item need
            not be contiguous).
        answers: each sample's extracted answer, ``None`` when unparseable; same length.

    Returns:
        Float array, shape ``(n_rows,)``: ``count(answer within item) / n_samples(item)`` in
        ``(0, 1]``, and ``0.0`` for ``None`` answers.

    Raises:
        DataError: the lengths differ.
    """
    if len(item_ids) != len(answers):
        raise DataError(f"self_consistency: {len(item_ids)} item ids for {len(answers)} answers")
    per_item: dict[str, Counter] = {}
    sizes: Counter = Counter(item_ids)
    for item, ans in zip(item_ids, answers, strict=True):
        if ans is not None:
            per_item.setdefault(item, Counter())[ans] += 1
    out = np.zeros(len(answers), dtype=np.float64)
    for j, (item, ans) in enumerate(zip(item_ids, answers, strict=True)):
        if ans is not None:
            out[j] = per_item[item][ans] / sizes[item]
    return out


class SelfConsistencyScorer:
    """Majority-vote scorer over the check table's extracted answers (see the module docstring).

    Args:
        spec: the ``scorers.<name>`` entry of params.yaml (no options besides ``type``).
    """

    kind = "self_consistency"

    def __init__(self, spec: dict[str, Any] | None = None):
        self.spec = dict(spec or {})

    def score(self, inputs: ScoringInputs) -> Scores:
        """Score every generation row by its answer's vote share.

        Raises:
            DataError: no check table was given.
            ConfigError: the benchmark's ``extracted`` is a judge verdict (see
                :func:`goodbadgreedy.benchmarks.extracts_answers`).
        """
        if inputs.checks is None:
            raise DataError("self_consistency needs the check table (its 'extracted' column)")
        for bench in inputs.checks["benchmark"].unique().to_list():
            if bench in benchmarks.NAMES and not benchmarks.extracts_answers(bench, inputs.options):
                raise ConfigError(
                    f"self_consistency on {bench!r}: the check table's 'extracted' is the judge's verdict, "
                    "not the model's answer, so voting on it would select samples by the grader itself "
                    "(goodbadgreedy.benchmarks.extracts_answers); the pipeline does not schedule it there")
        gen = inputs.generations.select("item_id", "sample_idx")
        joined = gen.join(
            inputs.checks.select("item_id", "sample_idx", "extracted"),
            on=["item_id", "sample_idx"],
            how="left",
            maintain_order="left",
        )
        reward = vote_shares(joined["item_id"].to_list(), joined["extracted"].to_list())
        return Scores(reward, np.zeros(gen.height, dtype=bool))

    def describe(self) -> dict[str, Any]:
        """Lineage fields: the scorer type."""
        return {"scorer_type": self.kind}
