"""GSM8K: grade-school math word problems, scored on the final number (Cobbe et al. 2021).

Source: openai/grade-school-math @ 3101c7d5, ``grade_school_math/data/test.jsonl`` (MIT); 1319
test problems, each ``{"question", "answer"}`` where the answer's last line is ``#### N``.

Prompt: 8-shot chain of thought as a multi-turn chat, with the eight exemplars of Wei et al.
(2022), "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models", arXiv:2201.11903,
Table 20 (the ones lm-evaluation-harness's ``gsm8k_cot`` task uses). Scoring: the number after
"The answer is" (else the last number in the response) compared numerically with the gold number.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import gsm8k as _spec
from goodbadgreedy.check_table import Judgement
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.prompts import Prompt, truncate_at_stop

#: The declaration (goodbadgreedy.benchmarks.specs.gsm8k): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
RAW_FILES: tuple[str, ...] = SPEC.raw_files
#: ``n_shot``: how many of the eight chain-of-thought exemplars precede the question (0..8).
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()

#: Stop sequences: the start of an invented next question, and common end-of-turn markers that
#: some chat templates leave as text.
STOP: tuple[str, ...] = SPEC.stop_sequences

#: The eight chain-of-thought exemplars of Wei et al. (2022), arXiv:2201.11903, Table 20
#: (also lm-evaluation-harness ``lm_eval/tasks/gsm8k/gsm8k-cot.yaml``), as (question, reasoning).
EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
        "After they are done, there will be 21 trees. How many trees did the grove workers plant "
        "today?",
        "There are 15 trees originally. Then there were 21 trees after some more were planted. "
        "So there must have been 21 - 15 = 6. The answer is 6.",
    ),
    (
        "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the "
        "parking lot?",
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.",
    ),
    (
        "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they "
        "have left in total?",
        "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
        "After eating 35, they had 74 - 35 = 39. The answer is 39.",
    ),
    (
        "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How "
        "many lollipops did Jason give to Denny?",
        "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
        "Denny 20 - 12 = 8. The answer is 8.",
    ),
    (
        "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many "
        "toys does he have now?",
        "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 "
        "more toys. 5 + 4 = 9. The answer is 9.",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed each "
        "day, from monday to thursday. How many computers are now in the server room?",
        "There were originally 9 computers. For each of 4 days, 5 more computers were added. So "
        "5 * 4 = 20 computers were added. 9 + 20 is 29. The answer is 29.",
    ),
    (
        "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 "
        "more. How many golf balls did he have at the end of wednesday?",
        "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. "
        "After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33.",
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she "
        "has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8.",
    ),
)

#: Appended to the question when ``n_shot`` is 0, so the model still knows the answer format.
ZERO_SHOT_INSTRUCTION = 'Think step by step, then end with "The answer is N." where N is a number.'

# A number: optional sign (ASCII hyphen or U+2212), optional "$", digits with optional comma
# thousands separators (groups of exactly three), optional decimals. It must not start inside a
# word or right after a decimal point. A trailing "." (end of sentence) is not part of it.
_NUM = (
    r"(?<![\w.])(?P<sign>[-\u2212])?\$?\s?(?P<sign2>[-\u2212])?"
    r"(?P<int>\d{1,3}(?:,\d{3}(?!\d))+|\d+)(?P<frac>\.\d+)?"
)
_NUM_RE = re.compile(_NUM)
# An explicit answer phrase followed (after optional ":", "*", "\boxed{") by a number.
_PHRASE_RE = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|answer\s*:|####|\\boxed\{)[\s:*]*(?:\\boxed\{)?\s*" + _NUM,
    re.IGNORECASE,
)


def _canonical(d: Decimal) -> str:
    """Canonical text of a number: integers without a decimal part, else no trailing zeros."""
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _from_match(m: re.Match[str]) -> str:
    negative = bool(m.group("sign") or m.group("sign2"))
    digits = m.group("int").replace(",", "") + (m.group("frac") or "")
    d = Decimal(digits)
    return _canonical(-d if negative else d)


def normalize_number(text: str) -> str | None:
    """Normalize a numeric string to a canonical form.

    Strips surrounding whitespace and trailing punctuation, ``$``, comma thousands separators and
    trailing zero decimals; keeps the sign and significant decimals.
    Examples: ``"$1,234.50"`` -> ``"1234.5"``, ``"18.00"`` -> ``"18"``, ``"-3"`` -> ``"-3"``.

    Args:
        text: the string, which must hold exactly one number and nothing else but punctuation.

    Returns:
        The canonical string, or ``None`` if ``text`` is not a single number.
    """
    s = text.strip().rstrip(".!?;:)").strip()
    m = _NUM_RE.fullmatch(s)
    if m is None:
        return None
    try:
        return _from_match(m)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def _extract(text: str) -> tuple[str | None, str]:
    """Return (canonical number or None, rule that fired)."""
    m = _PHRASE_RE.search(text)
    if m is not None:
        return _from_match(m), "answer_phrase"
    numbers = list(_NUM_RE.finditer(text))
    if numbers:
        return _from_match(numbers[-1]), "last_number"
    return None, "no number in response"


def extract_answer(text: str) -> str | None:
    r"""Extract the final numeric answer from a model response.

    Rule: the number right after the first answer phrase ("The answer is", "The final answer is",
    "Answer:", "####", ``\boxed{``; case-insensitive; ``:``/``*``/``$``/spaces allowed in
    between), else the last number anywhere in the text. The first phrase is taken, as in
    lm-evaluation-harness's ``gsm8k_cot`` strict match: the exemplars end with exactly one such
    phrase, and what follows it is usually an invented continuation.

    Args:
        text: the response.

    Returns:
        The number in canonical form (see :func:`normalize_number`), or ``None`` if the text holds
        no number.
    """
    return _extract(text)[0]


def gold_answer(answer: str) -> str | None:
    """Return the normalized number after the last ``####`` of a GSM8K solution, or ``None``."""
    if "####" not in answer:
        return None
    return normalize_number(answer.rsplit("####", 1)[1])


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load the GSM8K test split into a benchmark table.

    Args:
        raw_dir: folder holding ``test.jsonl`` (``data/raw/gsm8k``).
        options: benchmark options (validated; loading uses none).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows in file order: ``item_id`` ``gsm8k/test/{line:04d}``
        (0-based line), ``category`` ``"gsm8k"``, empty ``choices``, ``answer`` the normalized gold
        number; ``payload`` holds ``solution`` (the reference reasoning), ``raw_answer`` (the text
        after ``####``) and ``line``.

    Raises:
        goodbadgreedy.errors.DataError: the file is missing, a line is not a JSON object with
            string ``question`` and ``answer``, or a gold answer does not parse (file and line
            named).
        goodbadgreedy.errors.ConfigError: bad options.
    """
    _options(options)
    path = base.require_file(Path(raw_dir) / RAW_FILES[0])
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for i, line in enumerate(lines):
        where = f"{path}:{i + 1}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(rec, dict) or not all(
            isinstance(rec.get(k), str) for k in ("question", "answer")
        ):
            raise DataError(f"{where}: expected an object with string 'question' and 'answer'")
        gold = gold_answer(rec["answer"])
        if gold is None:
            raise DataError(f"{where}: no number after '####' in answer {rec['answer'][-60:]!r}")
        rows.append(
            {
                "item_id": f"gsm8k/test/{i:04d}",
                "benchmark": NAME,
                "category": NAME,
                "question": rec["question"],
                "choices": [],
                "answer": gold,
                "payload": base.dump_payload(
                    {
                        "solution": rec["answer"],
                        "raw_answer": rec["answer"].rsplit("####", 1)[1].strip(),
                        "line": i,
                    }
                ),
            }
        )
    return base.benchmark_frame(rows, name=NAME)


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    n = opts["n_shot"]
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(EXEMPLARS):
        raise ConfigError(
            f"benchmark {NAME!r}: option 'n_shot' must be an integer in 0..8, got {n!r}"
        )
    return opts


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    """Build the chain-of-thought chat prompt of one item.

    Each of the first ``n_shot`` exemplars is a user turn ``"Question: <q>"`` and an assistant
    turn ``"<reasoning> The answer is N."``; the item's question is the last user turn (with
    :data:`ZERO_SHOT_INSTRUCTION` appended when ``n_shot`` is 0).

    Args:
        item: one benchmark-table row (needs ``question``).
        options: benchmark options (``n_shot``).

    Returns:
        The prompt, with stop sequences :data:`STOP`.

    Raises:
        goodbadgreedy.errors.ConfigError: ``n_shot`` is not an integer in 0..8.
    """
    opts = _options(options)
    messages: list[dict[str, str]] = []
    for q, a in EXEMPLARS[: opts["n_shot"]]:
        messages.append({"role": "user", "content": f"Question: {q}"})
        messages.append({"role": "assistant", "content": a})
    content = f"Question: {item['question']}"
    if opts["n_shot"] == 0:
        content += "\n" + ZERO_SHOT_INSTRUCTION
    messages.append({"role": "user", "content": content})
    return Prompt(messages=tuple(messages), stop=STOP)


def judge(item: dict[str, Any], response: str) -> Judgement:
    """Check one response against the item's gold number (numeric equality)."""
    gold = item["answer"]
    extracted, how = _extract(truncate_at_stop(response, STOP))
    equal = extracted is not None and Decimal(extracted) == Decimal(gold)
    return base.verdict_for(extracted, gold, equal, how)


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any]) -> pl.DataFrame:
    """Score GSM8K responses.

    Args:
        items: the GSM8K benchmark table.
        generations: a generation table (``tables.GENERATION_SCHEMA``).
        options: benchmark options (validated).

    Returns:
        ``tables.CHECK_SCHEMA`` rows, one per generation row in the same order: ``extracted`` the
        canonical number (null if none), ``gold``, ``score`` 1.0/0.0, ``verdict``
        ``correct``/``wrong``/``no_answer``, ``detail`` the rule that fired (``answer_phrase`` or
        ``last_number``).

    Raises:
        goodbadgreedy.errors.DataError: a generation refers to an unknown item_id (named), or a
            required column is missing.
    """
    _options(options)
    return base.check_each(items, generations, judge, name=NAME)
