"""Parsers of judge outputs (pure functions; ``None`` means the output did not parse).

A parse failure is never turned into a guess here: callers record it (verdict
``judge_parse_failure``, column ``judge_parse_failures``) and count it.
"""

from __future__ import annotations

import re

# MixEval (Psycoy/MixEval, mix_eval/utils/metric_utils.py: get_score_from_judge,
# get_option_from_judge): "[[x]]" first, else "[x]"; the first match counts.
_SCORE_2 = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SCORE_1 = re.compile(r"\[(\d+\.?\d*)\]")
_OPTION_2 = re.compile(r"\[\[([A-Z])\]\]")
_OPTION_1 = re.compile(r"\[([A-Z])\]")

#: arena-hard-auto v2.0's ``regex_pattern`` (config/arena-hard-v2.0.yaml).
ARENA_PATTERN = re.compile(r"\[\[([AB<>=]+)\]\]")
#: Verdict label -> score of assistant A (win 1, tie 0.5, loss 0; strong and slight alike).
ARENA_LABELS: dict[str, float] = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B=A": 0.5, "B>A": 0.0, "B>>A": 0.0}


def mixeval_score(output: str) -> float | None:
    """The free-form correctness score a MixEval judge gave, in [0, 1].

    Rule (MixEval's ``get_score_from_judge``): the first ``[[x]]``, else the first ``[x]``, with x
    a decimal number; MixEval re-asks the judge when x is outside [0, 1], so such a score is a
    parse failure here.

    Returns:
        The score, or None when no bracketed number is found or it lies outside [0, 1].
    """
    m = _SCORE_2.search(output) or _SCORE_1.search(output)
    if m is None:
        return None
    value = float(m.group(1))
    return value if 0.0 <= value <= 1.0 else None


def mixeval_option(output: str) -> str | None:
    """The option letter a MixEval judge extracted (``get_option_from_judge``).

    Rule: the first ``[[X]]``, else the first ``[X]``, X one upper-case letter.

    Returns:
        The letter, or None when there is none.
    """
    m = _OPTION_2.search(output) or _OPTION_1.search(output)
    return m.group(1) if m else None


def arena_verdict(output: str) -> str | None:
    r"""The verdict label of an Arena-Hard judgement, as arena-hard-auto's ``get_score`` reads it.

    Rule: all matches of ``\[\[([AB<>=]+)\]\]``; exactly one distinct label is the verdict;
    none, or several different labels, is a failure (arena-hard-auto re-asks on none and drops the
    game on several). A label outside :data:`ARENA_LABELS` (e.g. ``[[AB]]``) is a failure too.

    Returns:
        One of :data:`ARENA_LABELS`, or None.
    """
    found = {m for m in ARENA_PATTERN.findall(output) if m}
    if len(found) != 1:
        return None
    (label,) = found
    return label if label in ARENA_LABELS else None


def arena_model_score(label: str, model_is_a: bool) -> float:
    """Score in [0, 1] of the evaluated model for a verdict label: win 1, tie 0.5, loss 0.

    Args:
        label: a key of :data:`ARENA_LABELS`.
        model_is_a: whether the evaluated model was assistant A in that game.

    Raises:
        KeyError: unknown label.
    """
    a = ARENA_LABELS[label]
    return a if model_is_a else 1.0 - a


_ALPACA = re.compile(r"\s*[`'\"]?\s*(m|M)(?![A-Za-z0-9_])")


def alpaca_choice(output: str) -> str | None:
    """The model identifier (``m`` or ``M``) an AlpacaEval judge chose.

    AlpacaEval 2's annotator (``weighted_alpaca_eval_gpt4_turbo``) reads the log-probabilities of
    the first output token ``m``/``M``; a server without logprobs gives text, so the text must
    start with the identifier (optionally quoted): ``"m"``, ``M``, ``'M'.``. Anything else (``model
    m``, ``Mistral``) is a failure.

    Returns:
        ``"m"``, ``"M"`` or None.
    """
    m = _ALPACA.match(output)
    return m.group(1) if m else None


__all__ = ["ARENA_LABELS", "ARENA_PATTERN", "alpaca_choice", "arena_model_score", "arena_verdict",
           "mixeval_option", "mixeval_score"]
