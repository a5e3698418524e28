"""Reranking for Best-of-N: scorers give one finite float per (item, sample), higher is better.

(The package is named for what it is for, reranking samples; the check table's ``score`` column
is something else: a sample's correctness.)

``params.yaml``'s ``scorers`` maps a name to a spec; the spec's ``type`` (default: the name
itself) picks the scorer:

* ``self_consistency`` (:mod:`.self_consistency`): vote share of the sample's extracted answer;
* ``logprob`` (:mod:`.logprob`): the policy model's mean token log-probability of the response;
* ``reward_model`` (:mod:`.reward_model`): a transformers sequence-classification reward model.

:func:`build_scorer` makes one from its spec; :func:`~.base.score_table` runs it on a generation
table and returns the scores table (``tables.SCORES_SCHEMA``) the score stage publishes.
Best-of-N tables and plots from scores: :mod:`.best_of_n_table`, :mod:`.plot`.
"""

from __future__ import annotations

from typing import Any, Mapping

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.reranking.base import Scorer, Scores, ScoringInputs, score_table

#: The scorer types and what each needs from the score stage.
SCORER_TYPES = ("self_consistency", "logprob", "reward_model")
#: The scorer types that run a model (torch, transformers); a score job of another type imports neither.
MODEL_SCORER_TYPES = ("logprob", "reward_model")


def scorer_type(name: str, spec: Mapping[str, Any]) -> str:
    """The type of scorer ``name``: ``spec['type']``, else the name itself.

    Raises:
        ConfigError: the type is not one of :data:`SCORER_TYPES` (the message names the key).
    """
    kind = spec.get("type", name)
    if kind not in SCORER_TYPES:
        raise ConfigError(
            f"scorers.{name}: unknown scorer type {kind!r}; set type to one of {list(SCORER_TYPES)}"
        )
    return kind


def build_scorer(
    name: str,
    spec: Mapping[str, Any],
    *,
    benchmark: str,
    policy_manifest: str | None = None,
    runtime: Mapping[str, str] | None = None,
) -> Scorer:
    """Make the scorer ``scorers.<name>`` of params.yaml.

    Args:
        name: the scorer's key in params.yaml.
        spec: its entry (``type`` and the type's options).
        benchmark: the benchmark being scored (the reward model rebuilds its user messages).
        policy_manifest: the policy model's ``manifest.json`` (read by ``logprob`` only).
        runtime: the policy's ``{"device", "dtype"}`` (``logprob`` only).

    Raises:
        ConfigError: unknown type, or options the type cannot use.
        goodbadgreedy.errors.ModelLoadError: a model cannot be loaded.
    """
    kind = scorer_type(name, spec)
    options = {k: v for k, v in spec.items() if k != "type"}
    if kind == "self_consistency":
        from goodbadgreedy.reranking.self_consistency import SelfConsistencyScorer

        return SelfConsistencyScorer(options)
    if kind == "logprob":
        from goodbadgreedy.reranking.logprob import LogprobScorer

        if policy_manifest is None:
            raise ConfigError(f"scorers.{name}: logprob needs the policy model's manifest")
        from goodbadgreedy.generation.model import read_manifest

        runtime = dict(runtime or {})
        # loaded only if a row lacks recorded log-probabilities (teacher-forced fallback); a model
        # without local weights (served over HTTP) can be scored when its server returned them
        load_path = read_manifest(policy_manifest).load_path or None
        return LogprobScorer(options, load_path=load_path,
                             dtype=runtime.get("dtype", "float32"), device=runtime.get("device", "cpu"))
    from goodbadgreedy.reranking.reward_model import RewardModelScorer

    return RewardModelScorer(options, benchmark=benchmark)


__all__ = ["MODEL_SCORER_TYPES", "SCORER_TYPES", "Scorer", "Scores", "ScoringInputs", "build_scorer", "score_table",
           "scorer_type"]
