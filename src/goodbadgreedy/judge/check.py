"""The check stage of judge-based benchmarks: judge prompts -> one check row per (item, sample).

A benchmark describes, for one (item, response), its *games*: judge prompts, each with a parser
that turns the judge's raw output into a :class:`GameResult` (the model's score in [0, 1], or
None when the output did not parse). Arena-Hard has two games per response (both answer orders),
MixEval and AlpacaEval one. :func:`judged_check` sends all games to the judge at once and writes
the check table (``tables.CHECK_SCHEMA``):

* ``score``: the mean score over the games that parsed; 0.0 when none did (the row stays in the
  table; it is not dropped);
* ``verdict``: the benchmark's verdict, or ``judge_parse_failure`` when no game parsed;
* ``extracted``: what was parsed per game (``,``-joined; empty for a failed game);
* ``judge_prompt``: canonical JSON list of the games' chat prompts; ``judge_output``: JSON list
  of the judge's raw outputs; ``judge_parse_failures``: games whose output did not parse;
* ``detail``: judge model, and per-game notes (e.g. answer positions).

The parse failures are also counted in the log and returned by :func:`judge_summary` (which the
check script writes into the table's lineage sidecar).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import polars as pl

from goodbadgreedy import tables
from goodbadgreedy.check_table import Judgement, check_frame, items_for
from goodbadgreedy.judge.client import JudgeClient, messages_json

log = logging.getLogger(__name__)

#: Verdict of a row whose judge outputs all failed to parse.
PARSE_FAILURE = tables.JUDGE_PARSE_FAILURE


class GameResult(NamedTuple):
    """One parsed judge output.

    Attributes:
        score: the evaluated model's score in [0, 1]; None when the output did not parse.
        label: what was read from the output (option letter, score, verdict label), or None.
        verdict: the row verdict this game alone implies (e.g. ``correct``, ``win``).
    """

    score: float | None
    label: str | None
    verdict: str | None = None


@dataclass(frozen=True)
class Game:
    """One judge prompt about one response and how to read the judge's answer.

    Attributes:
        messages: the chat prompt sent to the judge.
        parse: maps the judge's raw output to a :class:`GameResult`.
        note: recorded in ``detail`` (e.g. ``model=A``).
    """

    messages: tuple[dict[str, str], ...]
    parse: Callable[[str], GameResult] = field(compare=False)
    note: str = ""


def combine_verdict(results: Sequence[GameResult], score: float) -> str:
    """Row verdict: the single parsed game's verdict; for several games win/tie/loss by the mean score."""
    parsed = [r for r in results if r.score is not None]
    if not parsed:
        return PARSE_FAILURE
    if len(parsed) == 1 and parsed[0].verdict:
        return parsed[0].verdict
    return "win" if score > 0.5 else "tie" if score == 0.5 else "loss"


def judged_check(
    items: pl.DataFrame,
    generations: pl.DataFrame,
    games_for: Callable[[dict[str, Any], str, int], list[Game]],
    gold_for: Callable[[dict[str, Any]], str],
    judge: Mapping[str, Any] | JudgeClient | None,
    *,
    name: str,
    verdict: Callable[[Sequence[GameResult], float], str] = combine_verdict,
) -> pl.DataFrame:
    """Judge every response and build its check table.

    Args:
        items: the benchmark table.
        generations: the generation table (``tables.GENERATION_SCHEMA``); a null response is
            judged as ``""``.
        games_for: ``(item, response, sample_idx) -> games`` (at least one).
        gold_for: ``item -> gold`` text for the ``gold`` column.
        judge: params.yaml's ``judge`` section, or a :class:`JudgeClient`.
        name: the benchmark's name (messages, log).
        verdict: row verdict from the game results and the row score.

    Returns:
        ``tables.CHECK_SCHEMA`` rows, one per generation row in the same order (see the module
        docstring for the columns).

    Raises:
        goodbadgreedy.errors.DataError: a generation refers to an unknown item (named), or a
            required column is missing.
        goodbadgreedy.errors.BackendError: the judge failed for good.
        goodbadgreedy.errors.ConfigError: a bad judge setting.
    """
    client = judge if isinstance(judge, JudgeClient) else JudgeClient(judge)
    matched = items_for(items, generations, name=name)
    responses = generations["response"].to_list()
    sample_idx = generations["sample_idx"].to_list()
    games = [games_for(item, resp or "", j) for item, resp, j in zip(matched, responses, sample_idx, strict=True)]
    flat = [g.messages for gs in games for g in gs]
    replies = iter(client.complete(flat))
    judgements: list[Judgement] = []
    n_fail_games = n_fail_rows = 0
    for item, gs in zip(matched, games, strict=True):
        outs = [next(replies) for _ in gs]
        results = [g.parse(r.output) for g, r in zip(gs, outs, strict=True)]
        scores = [r.score for r in results if r.score is not None]
        fails = len(results) - len(scores)
        score = sum(scores) / len(scores) if scores else 0.0
        n_fail_games += fails
        n_fail_rows += not scores
        notes = [f"game {k}: {g.note}; finish={o.finish_reason}" for k, (g, o) in enumerate(zip(gs, outs, strict=True))]
        judgements.append(Judgement(
            extracted=",".join(r.label or "" for r in results) if any(r.label for r in results) else None,
            gold=gold_for(item),
            score=score,
            verdict=verdict(results, score),
            detail=f"judge={client.name}; " + "; ".join(notes),
            judge_prompt=messages_json([g.messages for g in gs]),
            judge_output=json.dumps([o.output for o in outs], ensure_ascii=False),
            judge_parse_failures=fails,
        ))
    if n_fail_games:
        log.warning("%s: %d of %d judge outputs did not parse (%d of %d rows scored 0 with verdict %r)",
                    name, n_fail_games, len(flat), n_fail_rows, len(judgements), PARSE_FAILURE)
    return check_frame(generations, judgements)


def judge_summary(checks: pl.DataFrame) -> dict[str, Any]:
    """Counts of a judged check table, for its lineage sidecar and the log.

    Returns:
        ``{"judge_outputs": n, "judge_parse_failures": n, "rows_without_parsed_judgement": n,
        "verdicts": {verdict: n}}``.
    """
    n_games = sum(len(json.loads(s)) for s in checks["judge_output"].drop_nulls().to_list())
    counts = checks.group_by("verdict").len().sort("verdict")
    return {
        "judge_outputs": n_games,
        "judge_parse_failures": int(checks["judge_parse_failures"].fill_null(0).sum()),
        "rows_without_parsed_judgement": int((checks["verdict"] == PARSE_FAILURE).sum()),
        "verdicts": dict(zip(counts["verdict"].to_list(), counts["len"].to_list(), strict=True)),
    }


__all__ = ["Game", "GameResult", "PARSE_FAILURE", "combine_verdict", "judge_summary", "judged_check"]
