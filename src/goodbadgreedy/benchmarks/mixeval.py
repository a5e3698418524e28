"""MixEval (2024-06-01): free-form and multiple-choice questions graded by a model parser.

Ni et al. (2024), "MixEval: Deriving Wisdom of the Crowd from LLM Benchmark Mixtures",
arXiv:2406.06565. Source: Psycoy/MixEval @ 7c52b419,
``mix_eval/data/mixeval-2024-06-01/mixeval/{free-form,multiple-choice}.json`` (MIT). Each file
is a JSON *object* keyed by string ids ``"0"``..``"1999"`` (not a list); every entry has
``problem_type``, ``context`` (null, or text; MixEval also treats ``"none"``/``"null"``/blank as
absent), ``prompt``, ``target`` and ``benchmark_name``; multiple-choice entries add ``options``,
with ``target`` a one-element list holding the index of the right option.

One registry entry, ``mixeval``, with option ``split``: ``both`` (default), ``free_form`` or
``multiple_choice``. MixEval's headline score is the accuracy over all items of both files
(the authors' protocol, docs/how_to_use_your_own_eval_code.md), which is what Table 1 then shows
with ``both``; a split alone is one option away, and the item ids (``mixeval/ff/0042``,
``mixeval/mc/0042``) and ``category`` (``free-form/TriviaQA``, ``multiple-choice/MMLU``) keep the
two parts apart in every table.

Prompts: MixEval's fixed chat-model prompts (``mix_eval/prompts/evaluation_prompts.py``:
``construct_prompt_freeform`` / ``construct_prompt_multichoice``), as one user turn.

Grading with the model parser (``mix_eval/prompts/judge_prompts.py``, ``utils/metric_utils.py``):
the judge sees the question *without* its context, the golden answer(s) ``<answer 1> x; <answer 2>
y`` or the lettered options, and the model's answer, and

* free-form: scores it 0.0..1.0 as ``[[score]]`` -> the row's score is that number;
* multiple-choice: extracts the chosen option as ``[[X]]`` -> score 1 if it is the gold letter.

Deviation, on purpose: MixEval re-asks the judge up to 10 times when its output does not parse
and then assigns a *random* score/option. Our judge decodes greedily with a fixed seed (asking
again returns the same text), and a random score would hide the failure: an unparsed judgement
scores 0.0 with verdict ``judge_parse_failure`` and is counted (``judge_parse_failures``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import mixeval as _spec
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.judge import parsing
from goodbadgreedy.prompts import Prompt

#: The declaration (goodbadgreedy.benchmarks.specs.mixeval): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
RAW_FILES: tuple[str, ...] = SPEC.raw_files
#: ``split``: ``both`` | ``free_form`` | ``multiple_choice``.
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()
SPLITS = tuple(SPEC.options["split"]["enum"])

MULTI_CHOICE_PROMPT = "Answer with the option letter from the given choices directly."
FREE_FORM_PROMPT = "Answer the question shortly."
#: BBH, GSM8k and MATH items ask for step-by-step reasoning (MixEval's per-benchmark prompts).
STEP_BY_STEP_PROMPT = "Answer the question. \nLet's think step by step."
STEP_BY_STEP = ("BBH", "GSM8k", "MATH")

# MixEval's model-parser prompts (Psycoy/MixEval, mix_eval/prompts/judge_prompts.py, MIT), kept
# word for word (typos included): the judge must see what the authors' judge saw.
FREEFORM_JUDGE_SYSTEM = "In this task, I want you to act as a judge."
FREEFORM_JUDGE_USER = '''You will be provided with a question, its golden answer(s), and the model's answer, while the context of the question is not given here. Your task is to judge how correct the model's answer is based on the golden answer(s), without seeing the context of the question, and then give a correctness score. The correctness score should be one of the below numbers: 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Your should first briefly give your reasoning process regarding how the model's answer conforms to or contradicts the golden answer(s), and then give the correctness score. The correctness score must strictly follow this format: \"[[score]]\", e.g., \"The correctness score: [[0.5]]\". Below are some examples. 

Example 1: 
Question: Sandy bought 1 million Safe Moon tokens. She has 4 siblings. She wants to keep half of them to herself and divide the remaining tokens among her siblings. After splitting it up, how many more tokens will she have than any of her siblings?
Golden Answer(s): <answer 1> 375000
Model's Answer: Sandy will have more tokens than any sibling by 3/8 million.
Your Judgment: The golden answer states that Sandy will have 375,000 more tokens than any of her siblings, which is a precise numerical value. The model's answer translates this scenario into a fraction of the total, saying Sandy will have more tokens than any sibling by 3/8 million. 1 million tokens * 3/8 = 375,000 tokens. So the model provided an answer in fractional form that, when converted to a numerical value, exactly matches the golden answer's quantity. The correctness score: [[1.0]].

Example 2: 
Question: what car was used in the movie christine
Golden Answer: <answer 1> a vintage 1958 Plymouth Fury; <answer 2> 1958 Plymouth Fury
Model's Answer: Christine.
Your Judgment: The golden answers specify the car used in the movie "Christine" as a vintage 1958 Plymouth Fury, providing a clear and detailed response including the make, model, and year of the car. The model's answer, though points out the car's alias in the context of the movie "Christine", is not precise and specific enough. The correctness score: [[0.5]].

Example 3: 
Question: In 2015 Edgar Lungu became prime minister of?
Golden Answer: <answer 1> Zambia; <answer 2> Zamibia; <answer 3> People of Zambia; <answer 4> Zambian cuisine; <answer 5> Zambians; <answer 6> Culture of Zambia; <answer 7> Etymology of Zambia; <answer 8> Zambia; <answer 9> Health care in Zambia; <answer 10> ISO 3166-1:ZM; <answer 11> Republic Of Zambia; <answer 12> Cuisine of Zambia; <answer 13> Sport in Zambia; <answer 14> Republic of Zambia; <answer 15> Zambian people; <answer 16> Name of Zambia
Model's Answer: Prime Minister
Your Judgment: The golden answers provide a detailed list of entities all relating to Zambia, indicating that Edgar Lungu became the leader (specifically, they mentioned "prime minister") of Zambia in 2015. The model's answer, "Prime Minister," merely repeats part of the question without answering it. The correctness score: [[0.0]].

Note that each one of the golden answers is considered correct. Thus if the model's answer matches any one of the golden answers, it should be considered correct. Judge the below case, give the brief reasoning process and the correctness score.

Question: {prompt}
Golden Answer(s): {gold_ans}
Model's Answer: {response}
Your Judgment: 
'''
MC_JUDGE_SYSTEM = "In this task, I want you to act as an option extractor."
MC_JUDGE_USER = '''You will be provided with a multiple-choice question, its options, and the model's answer, while the context of the question is not given here. Your task is to extract or judge which option is chosen by the model based on its response, without seeing the context of the question. The extracted option should be one of the provided option letters. Your should first briefly give your reasoning process, and then give the extracted option letter. The extracted option must strictly follow this format: \"[[option letter]]\", e.g., \"The option chosen by the model: [[A]]\".
Below are some examples. 

Example 1: 
Question: Which technology was developed most recently?
Options:
A. cellular telephone
B. television
C. refrigerator
D. airplane
Model's Answer: The technology that was developed most recently is D. airplane.
Your Judgment: The model's response directly identifies "D. airplane" as the technology that was developed most recently. This indicates that the chosen option is D. The option chosen by the model: [[D]].

Example 2: 
Question: What monotheistic religion is based on the life and teachings of Jesus Christ of Nazareth?
Options:
A. Islam
B. Christianity
C. Hinduism
D. Buddhism
Model's Answer: B\n\nWhat is the name of the first person to be executed by the electric chair?\nA. John Wilkes Booth\nB. William Kemmler\nC. John Dillinger\nD. Bonnie and Clyde\nAnswer with the option letter 
Your Judgment: The model's response clearly identifies "B. Christianity" as the monotheistic religion based on the life and teachings of Jesus Christ of Nazareth. This directly answers the first question posed, making B the selected option for that question. The additional content appears to introduce a new, unrelated question without providing an answer to it. The option chosen by the model: [[B]].       

Example 3: 
Question: Which solution is correct?
Options:
A. provide homes for people
B. provide homes for animals
Model's Answer: Neither A nor B is entirely correct because trees do not "provide homes" in the traditional sense. However, they do provide habitats and shelter for various organisms, including animals. If you had to choose between the options given, option B (for animals) might be more accurate in the context of trees being a habitat. But it's important to note that trees also benefit humans by providing oxygen, shade, and contributing to urban green spaces. If you need to select one option, I would suggest:\n\nB. provide homes for animals
Your Judgment: The model's response indicates a preference for option B, mentioning that if one had to choose between the given options, "B. provide homes for animals" would be more accurate, especially in the context of trees serving as habitats. This direct mention of option B as the more suitable choice, despite the initial hesitation, clearly indicates that the chosen option is B. The option chosen by the model: [[B]].

Question: {prompt}
Options: 
{options}
Model's Answer: {response}
Your Judgment: 
'''

_SPLIT_FILES = {"free_form": ("free-form.json", "ff", "free-form"), "multiple_choice": ("multiple-choice.json", "mc", "multiple-choice")}


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    if opts["split"] not in SPLITS:
        raise ConfigError(f"benchmark {NAME!r}: option 'split' must be one of {SPLITS}, got {opts['split']!r}")
    return opts


def has_context(context: Any) -> bool:
    """MixEval's test for a usable context: not None, not ``"none"``/``"null"`` (any case), not blank."""
    s = str(context)
    return s.lower() not in ("none", "null") and s.replace(" ", "") != ""


def option_lines(options: list[str]) -> str:
    r"""``A. first\nB. second...`` (MixEval's ``parse_options``)."""
    return "\n".join(f"{chr(ord('A') + i)}. {o}" for i, o in enumerate(options))


def _entries(path: Path) -> list[tuple[int, dict[str, Any]]]:
    data = base.read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by ids, got {type(data).__name__}")
    out = []
    for key, rec in data.items():
        if not key.isdigit():
            raise DataError(f"{path}: id {key!r} is not a non-negative integer")
        if not isinstance(rec, dict):
            raise DataError(f"{path}: entry {key!r} is not an object")
        out.append((int(key), rec))
    return sorted(out)


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load MixEval 2024-06-01 into a benchmark table.

    Args:
        raw_dir: folder holding ``free-form.json`` and ``multiple-choice.json`` (``data/raw/mixeval``).
        options: ``split`` (``both`` | ``free_form`` | ``multiple_choice``).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows: ``item_id`` ``mixeval/ff/{id:04d}`` or
        ``mixeval/mc/{id:04d}``; ``category`` ``free-form/<benchmark_name>`` or
        ``multiple-choice/<benchmark_name>``; ``question`` the raw ``prompt`` (no context);
        ``choices`` the options (empty for free-form); ``answer`` the gold letter (multiple
        choice) or the JSON list of golden answers (free-form); ``payload`` ``split``, ``id``,
        ``context`` (null when MixEval treats it as absent), ``target``, ``benchmark_name``.

    Raises:
        goodbadgreedy.errors.DataError: a file is missing or not a JSON object keyed by integer ids;
            an entry lacks a string ``prompt``/``benchmark_name``, a non-empty ``target`` list, or
            (multiple choice) ``options`` with ``target`` one valid index; file and id named.
        goodbadgreedy.errors.ConfigError: bad options.
    """
    opts = _options(options)
    splits = ("free_form", "multiple_choice") if opts["split"] == "both" else (opts["split"],)
    rows = []
    for split in splits:
        fname, short, label = _SPLIT_FILES[split]
        path = base.require_file(Path(raw_dir) / fname)
        for idx, rec in _entries(path):
            where = f"{path}: id {idx}"
            if not isinstance(rec.get("prompt"), str) or not isinstance(rec.get("benchmark_name"), str):
                raise DataError(f"{where}: needs string 'prompt' and 'benchmark_name'")
            target = rec.get("target")
            if not isinstance(target, list) or not target:
                raise DataError(f"{where}: 'target' must be a non-empty list, got {target!r}")
            context = rec.get("context")
            if context is not None and not isinstance(context, str):
                raise DataError(f"{where}: 'context' must be null or a string")
            context = context if has_context(context) else None
            if split == "multiple_choice":
                opts_list = rec.get("options")
                if not isinstance(opts_list, list) or len(opts_list) < 2 or not all(isinstance(o, str) for o in opts_list):
                    raise DataError(f"{where}: 'options' must be a list of >= 2 strings")
                if len(target) != 1 or isinstance(target[0], bool) or not isinstance(target[0], int) \
                        or not 0 <= target[0] < len(opts_list):
                    raise DataError(f"{where}: 'target' must hold one option index in 0..{len(opts_list) - 1}, got {target!r}")
                choices, answer = opts_list, chr(ord("A") + target[0])
            else:
                choices, answer = [], json.dumps([str(t) for t in target], ensure_ascii=False)
            rows.append({
                "item_id": f"mixeval/{short}/{idx:04d}",
                "benchmark": NAME,
                "category": f"{label}/{rec['benchmark_name']}",
                "question": rec["prompt"],
                "choices": choices,
                "answer": answer,
                "payload": base.dump_payload({"split": split, "id": idx, "context": context, "target": target,
                                              "benchmark_name": rec["benchmark_name"]}),
            })
    return base.benchmark_frame(rows, name=NAME)


def prompt_text(item: dict[str, Any]) -> str:
    """The user turn MixEval sends a chat model for one item (``construct_prompt_*``)."""
    p = base.payload_of(item)
    context = p.get("context")
    if p["split"] == "multiple_choice":
        body = f"{item['question']}\n{option_lines(list(item['choices']))}\n{MULTI_CHOICE_PROMPT}"
        return f"{context}\n{body}" if context else body
    instr = STEP_BY_STEP_PROMPT if p["benchmark_name"] in STEP_BY_STEP else FREE_FORM_PROMPT
    body = f"{item['question']}\n{instr}"
    return f"Question: {context}\n{body}" if context else f"Question: {body}"


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    """Build the chat prompt of one item: MixEval's fixed prompt as one user turn.

    Raises:
        goodbadgreedy.errors.ConfigError: bad options.
        goodbadgreedy.errors.DataError: the item's payload is not a JSON object.
    """
    _options(options)
    return Prompt(messages=({"role": "user", "content": prompt_text(item)},))


def judge_messages(item: dict[str, Any], response: str) -> tuple[dict[str, str], ...]:
    """The model-parser prompt for one response (free-form: scoring; multiple choice: extraction)."""
    p = base.payload_of(item)
    if p["split"] == "multiple_choice":
        user = MC_JUDGE_USER.format(prompt=item["question"], options=option_lines(list(item["choices"])), response=response)
        return ({"role": "system", "content": MC_JUDGE_SYSTEM}, {"role": "user", "content": user})
    gold = "; ".join(f"<answer {i + 1}> {a}" for i, a in enumerate(p["target"]))
    user = FREEFORM_JUDGE_USER.format(prompt=item["question"], gold_ans=gold, response=response)
    return ({"role": "system", "content": FREEFORM_JUDGE_SYSTEM}, {"role": "user", "content": user})


def _games(item: dict[str, Any], response: str, sample_idx: int):
    from goodbadgreedy.judge.check import Game, GameResult

    p = base.payload_of(item)
    if p["split"] == "multiple_choice":
        gold = item["answer"]

        def parse(out: str) -> GameResult:
            letter = parsing.mixeval_option(out)
            if letter is None:
                return GameResult(None, None)
            return GameResult(1.0 if letter == gold else 0.0, letter, "correct" if letter == gold else "wrong")

        return [Game(judge_messages(item, response), parse, "multiple-choice option extraction")]

    def parse_ff(out: str) -> GameResult:
        s = parsing.mixeval_score(out)
        if s is None:
            return GameResult(None, None)
        return GameResult(s, f"{s:g}", "correct" if s == 1.0 else "wrong" if s == 0.0 else "partial")

    return [Game(judge_messages(item, response), parse_ff, "free-form correctness score")]


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any],
          judge: Any = None) -> pl.DataFrame:
    """Grade MixEval responses with the judge (model parser).

    Args:
        items: the MixEval benchmark table.
        generations: a generation table (``tables.GENERATION_SCHEMA``).
        options: benchmark options (validated).
        judge: params.yaml's ``judge`` section, or a :class:`~goodbadgreedy.judge.client.JudgeClient`.

    Returns:
        ``tables.CHECK_SCHEMA`` rows, one per generation row in order: ``score`` the judge's
        free-form score or 1/0 for the right/wrong option (0 with verdict ``judge_parse_failure``
        when the judge's output did not parse); ``extracted`` the parsed score or letter;
        ``verdict`` ``correct``/``wrong``/``partial``/``judge_parse_failure``; the judge prompt and
        raw output in ``judge_prompt``/``judge_output``.

    Raises:
        goodbadgreedy.errors.DataError, BackendError, ConfigError: see
            :func:`goodbadgreedy.judge.check.judged_check`.
    """
    from goodbadgreedy.judge.check import judged_check

    _options(options)
    return judged_check(items, generations, _games, lambda item: item["answer"], judge, name=NAME)


def summary(checks: pl.DataFrame, items: pl.DataFrame, generations: pl.DataFrame) -> dict[str, Any]:
    """Judge counts for the check table's lineage (see :func:`goodbadgreedy.judge.check.judge_summary`)."""
    from goodbadgreedy.judge.check import judge_summary

    return {"judge": judge_summary(checks)}
