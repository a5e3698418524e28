r"""GSM8K: grade-school math word problems, scored on the final number (Cobbe et al. 2021).

Source: openai/grade-school-math @ 3101c7d5, ``grade_school_math/data/test.jsonl`` (MIT); 1319
test problems, each ``{"question", "answer"}`` where the answer's last line is ``#### N``. The
train split (``train.jsonl``, 7473 problems) is vendored next to it for the gold-solution check of
the answer policy below; it is not a benchmark input.

Prompt: 8-shot chain of thought as a multi-turn chat, with the eight exemplars of Wei et al.
(2022), "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models", arXiv:2201.11903,
Table 20 (the ones lm-evaluation-harness's ``gsm8k_cot`` task uses).

Answer policy (applied in one place, :func:`extract_answer`; the gold ``#### N`` goes through the
same number reader):

1. **Cut** the response where the model starts a new few-shot turn: at the first line that begins
   (after spaces and markdown ``*``/``#``/``>``/``_``) with ``Question:``, ``Q:``, ``Problem:``
   or either word with a number (``Question 2:``, ``Problem 3:``), and at the first end-of-turn
   marker a chat template left as text (``</s>``, ``<|im_end|>``, ...). Only the text before the
   cut is read. (The generator already stops at ``Question:`` anywhere.)
2. **Markers**: ``####``, ``answer is`` (so "The answer is", "The final answer is"),
   ``answer:`` (also ``**Answer:**``, "Final answer:") and ``\boxed{`` (case-insensitive). The
   answer is the one the **last marker that counts** gives (a model that states an answer and
   then corrects itself is scored on the correction); a marker that does not count is skipped
   (the one before it is used, else rule 3).

   a. **On the marker's line**: a marker counts only when a number follows it on its own line, or,
      when none does, the next non-empty line holds just a number (``**Answer:**`` then a line
      ``**$18**``). A marker followed by reasoning on later lines ("**Answer:**\n\nJanet's ducks
      lay 16 eggs ...") does not count. "Just a number" is one number with its formatting
      (markdown ``*``/`````, a final period, ``$``, ``\(...\)``), optionally followed by one unit
      word (``18 eggs``).
   b. ``####`` counts only when the rest of its line is just a number (in that sense), as in
      GSM8K's own ``#### 18``: a markdown heading ``#### Step 1: Eggs left`` is no marker.
   c. The marker's answer is the **first number after it** on its line, unless that number starts a
      shown **computation**: when only arithmetic (digits, operators ``+ - * / x × · ÷ ^``,
      brackets, currency, LaTeX ``\times``/``\cdot``/``\frac``...) lies between it and an ``=``
      in the same sentence (up to ``. ``, a line break or ``;``), the answer is the first number
      after the sentence's **last** ``=`` (its result): "The answer is 9 * 2 = 18." is 18, and so
      is "The answer is calculated as follows: 16 - 3 - 4 = 9, and 9 * 2 = 18." (its first number
      16 is followed by ``- 3 - 4 =``); "The answer is 18, since 16 - 3 - 4 = 9" is 18 (words lie
      between 18 and the ``=``).
3. **No marker that counts**: the **last number** in the text.
4. **Numbers** are read by value, and only digits count (no number words):

   * formatting that is dropped: currency signs before the number (``$``, ``\$``, ``€``, ``£``,
     ``¥``, ``₹``), what follows it (``%``, units: ``18%``, ``5km``), a sentence's final period
     (``18.`` is 18), trailing zeros (``18.00`` is 18), and thousands separators in every common
     spelling: ``,``, LaTeX ``{,}`` and ``\,``, thin space U+2009, narrow no-break space U+202F
     and no-break space U+00A0 (``9,500``, ``9{,}500``, ``10\,000``). A separator counts only
     between a group of 1-3 digits and groups of exactly three digits: ``3, 4 and 5`` (comma and
     space) are three numbers, ``1,23`` is 1 then 23, ``1,2345`` is 1 then 2345;
   * signs are kept: ``-`` or U+2212 ``−`` directly before the number or its currency sign
     (``-5``, ``−5``, ``-$5``, ``$-5``); a sign separated by a space is an operator (``16 - 3``
     holds 16 and 3), and so is one glued to a preceding digit (``5-3``);
   * fractions are exact values: ``a/b`` with no spaces around ``/`` (``1/2``, ``3/4 cup``),
     ``\frac{a}{b}``, ``\dfrac``, ``\tfrac`` and ``\frac12``; ``a / b`` with spaces is two
     numbers; a zero denominator is no number, nor is a number of more than 1000 characters
     (a degenerate repetition). A decimal comma (``0,5``) is not read as one, and
     a mixed number ``1 1/2`` is two numbers (1, then 1/2);
   * a number does not start inside a word, right after a digit's decimal point or right after a
     ``/`` (``x2``, ``COVID19`` hold no number; ``3rd`` is 3; ``12/25/2023`` is 12);
   * nothing is rounded: ``0.33`` is not ``1/3``, ``0.5`` is ``1/2``.

   A ``\boxed{...}`` is a marker like the others, so its answer is the first number after it:
   the box's own first number (``\boxed{18}``, ``\boxed{\$18}``, ``\boxed{18 \text{ eggs}}``; of
   a computation, its result by rule 2c: ``\boxed{2 \times 9 = 18}`` is 18), or, when the box
   holds no number (``\boxed{\text{eighteen}}``), the first number after it on its line.

**Not read** (known limits, each gives a different value than a reader would): Indian lakh
grouping (``1,00,000`` is 1 then 0), thousands separated by a plain space, an apostrophe or a dot
(``9 500`` and ``9'500`` are 9 then 500, ``9.500`` is 9.5), mixed numbers and unicode vulgar fractions
(``1 1/2`` is 1 then 1/2; ``½`` is no number), number words after digits (``1.5 million`` is
1.5), scientific notation and powers (``1e3`` is 1, ``2^10`` is 2 then 10), and negations ("not 5
but 6" after a marker reads 5).

The extracted answer (the check table's ``extracted``, which self-consistency and maj@k vote on)
is the value's **canonical text**, one spelling per value: an integer without decimals (``9500``,
``-3``, ``0``), a value with a finite decimal expansion as a decimal without trailing zeros
(``0.5``, ``1234.25``), any other value as a reduced fraction (``1/3``, ``-2/7``). The check
compares extracted and gold by exact value (:class:`fractions.Fraction`).
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

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

# ---------------------------------------------------------------------------------------------
# Numbers (policy point 4 of the module docstring)

_D = "[0-9]"
# thousands separators: ",", LaTeX "{,}" and "\,", thin space, narrow no-break space, no-break space
_SEP = r"(?:,|\{,\}|\\,|[\u2009\u202f\u00a0])"
# an unsigned integer: digit groups joined by separators (a 1-3 digit group, then groups of exactly
# three digits, each not followed by another digit), or plain digits
_UINT = rf"(?:{_D}{{1,3}}(?:{_SEP}{_D}{{3}}(?!{_D}))+|{_D}+)"
# an unsigned decimal: integer with optional decimals, or ".5" (not after another ".": "...6" is 6);
# the point needs a digit after it, so a sentence's final period is not part of the number
_UDEC = rf"(?:{_UINT}(?:\.{_D}+)?|(?<!\.)\.{_D}+)"
_SIGN = "[-\u2212+]"
_MINUS = "-\u2212"
_CUR = r"(?:\\\$|\$|€|£|¥|₹)"
_FRAC_CMD = r"\\[dt]?frac"
_NUMBER_RE = re.compile(
    # not inside a word (letters/digits; "_" of markdown is fine), nor right after a decimal point
    # ("1.2.3") or a "/" (the rest of a date or path: 12/25/2023 is 12)
    r"(?<![^\W_])(?<![0-9]\.)(?<!/)"
    rf"(?P<s1>{_SIGN})?(?:(?P<cur>{_CUR})\s?(?P<s2>{_SIGN})?)?"
    r"(?:"
    rf"{_FRAC_CMD}\s*\{{\s*(?P<tn>{_SIGN}?{_UDEC})\s*\}}\s*\{{\s*(?P<td>{_SIGN}?{_UDEC})\s*\}}"
    rf"|{_FRAC_CMD}(?P<tn1>{_D})(?P<td1>{_D})"
    rf"|(?P<n>{_UDEC})/(?P<d>{_UDEC})(?![0-9/])"
    rf"|(?P<p>{_UDEC})"
    r")"
)
_SEP_RE = re.compile(_SEP)


def _decimal(text: str) -> Fraction:
    """The exact value of one signed decimal matched by the number pattern (separators dropped)."""
    return Fraction(_SEP_RE.sub("", text).replace("\u2212", "-"))


#: A number spelled with more characters than this is no number (a degenerate repetition such as
#: "1111...", and beyond what Python converts from text: 4300 digits).
MAX_NUMBER_CHARS = 1000


def _value(m: re.Match[str]) -> Fraction | None:
    """The exact value of a number match, or None for a zero denominator or an overlong number."""
    if m.end() - m.start() > MAX_NUMBER_CHARS:
        return None
    if m.group("p") is not None:
        v = _decimal(m.group("p"))
    else:
        num, den = next(
            (m.group(a), m.group(b)) for a, b in (("tn", "td"), ("tn1", "td1"), ("n", "d")) if m.group(a) is not None
        )
        d = _decimal(den)
        if d == 0:
            return None
        v = _decimal(num) / d
    minus = sum(1 for s in (m.group("s1"), m.group("s2")) if s and s in _MINUS)
    return -v if minus % 2 else v


def _numbers(text: str, pos: int = 0) -> Iterator[Fraction]:
    """The values of the numbers in ``text`` from ``pos`` on, in order."""
    for m in _NUMBER_RE.finditer(text, pos):
        v = _value(m)
        if v is not None:
            yield v


def canonical(value: Fraction) -> str:
    """The canonical text of a value: one spelling per value, so that votes count values.

    Args:
        value: an exact rational value.

    Returns:
        An integer without decimals (``"9500"``, ``"-3"``, ``"0"``); a value with a finite decimal
        expansion (denominator ``2^a 5^b``) as a decimal without trailing zeros (``"0.5"``,
        ``"-1234.25"``); any other value as a reduced fraction (``"1/3"``, ``"-2/7"``).
    """
    n, d = value.numerator, value.denominator
    if d == 1:
        return str(n)
    a = b = 0
    rest = d
    while rest % 2 == 0:
        rest //= 2
        a += 1
    while rest % 5 == 0:
        rest //= 5
        b += 1
    if rest != 1:
        return f"{n}/{d}"
    k = max(a, b)
    digits = str(abs(n) * 10**k // d).rjust(k + 1, "0")
    return ("-" if n < 0 else "") + digits[:-k] + "." + digits[-k:]


def parse_value(text: str) -> Fraction:
    """The exact value of a canonical answer (an ``extracted`` or ``gold`` cell).

    Raises:
        ValueError: ``text`` is not an integer, decimal or ``a/b`` fraction.
    """
    return Fraction(text)


def normalize_number(text: str) -> str | None:
    r"""Read a string that holds exactly one number (with formatting) into its canonical text.

    Surrounding whitespace, trailing punctuation (``.!?;:)``) and ``%`` are dropped; the number is
    read as :func:`extract_answer`'s policy reads numbers (module docstring, point 4).
    Examples: ``"$1,234.50"`` -> ``"1234.5"``, ``"18.00"`` -> ``"18"``, ``"9{,}500"`` -> ``"9500"``,
    ``"-3"`` -> ``"-3"``, ``"1/2"`` -> ``"0.5"``, ``"\frac{1}{3}"`` -> ``"1/3"``.

    Args:
        text: the string.

    Returns:
        The canonical string (see :func:`canonical`), or ``None`` if ``text`` is not a single
        number (``"12 apples"``, ``""``, ``"1/0"``).
    """
    s = text.strip().rstrip(".!?;:)%").strip()
    m = _NUMBER_RE.fullmatch(s)
    v = _value(m) if m is not None else None
    return None if v is None else canonical(v)


# ---------------------------------------------------------------------------------------------
# The answer (policy points 1-3 of the module docstring)

# a line where the model starts a new few-shot turn: "Question:", "Question 2:", "Problem:", "Q:"
_TURN_RE = re.compile(
    r"^[ \t*#>_]*(?:(?:Question|Problem)(?:[ \t]*[0-9]+)?|Q)[ \t]*:", re.MULTILINE
)
# end-of-turn markers some chat templates leave as text (the stop sequences other than the turn)
_END_OF_TURN: tuple[str, ...] = tuple(s for s in STOP if s != "Question:")
_MARKER_RE = re.compile(r"####|\\boxed\s*\{|\banswer\s+is\b|\banswer\s*(?:\*\*|__)?\s*:", re.IGNORECASE)
# a sentence ends at ". " (a period before white space or the end), a line break or ";"
_SENTENCE_END_RE = re.compile(r"\.(?=\s|$)|\n|;")
# the text between a number and a following "=" that makes them one computation ("9 * 2 =",
# "16 - 3 - 4 =", "2 \times 9 ="): digits, operators, brackets, currency, spaces, LaTeX operators
_EXPRESSION_RE = re.compile(
    r"(?:[\s0-9.,+\-\u2212*/×x·÷^()\[\]{}$€£¥₹%]|\\(?:times|cdot|div|d?t?frac|left|right|,|\$))*"
)
# a line (or a marker's rest of line) that holds just a number: markdown and a unit word allowed
# (the unit directly after the number: "1. Recheck" is a numbered heading, not "1" and a unit)
_NUMBER_LINE_RE = re.compile(r"(?P<num>.*?[0-9}%])(?:[ \t]+[A-Za-z]{1,15})?[ \t]*[.!]?")


def _is_number_line(line: str) -> bool:
    """True if ``line`` holds just one number (policy point 2a): ``18``, ``**$18.00**``, ``18 eggs``."""
    bare = line.replace("*", "").replace("`", "").strip(" \t_$")
    bare = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", bare).strip()
    m = _NUMBER_LINE_RE.fullmatch(bare)
    return m is not None and normalize_number(m.group("num")) is not None


def cut_response(text: str) -> str:
    """The part of a response the policy reads: up to a new few-shot turn or end-of-turn marker.

    Args:
        text: the response.

    Returns:
        ``text`` up to (not including) the first line that begins with ``Question:``,
        ``Question N:``, ``Problem:``, ``Problem N:`` or ``Q:`` (after spaces or markdown
        ``*#>_``) and the first end-of-turn marker (``</s>``, ``<|im_end|>``, ``<|eot_id|>``,
        ``<|endoftext|>``), whichever comes first.
    """
    m = _TURN_RE.search(text)
    return truncate_at_stop(text if m is None else text[: m.start()], _END_OF_TURN)


def _marker_answer(text: str, marker: re.Match[str]) -> Fraction | None:
    """The answer a marker gives (policy point 2), or None if the marker does not count."""
    start = marker.end()
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    if marker.group(0) == "####":
        rest = text[start:line_end]
        return next(_numbers(rest), None) if _is_number_line(rest) else None
    first = next(_NUMBER_RE.finditer(text[:line_end], start), None)
    while first is not None and _value(first) is None:
        first = next(_NUMBER_RE.finditer(text[:line_end], first.end()), None)
    if first is None:
        # (a) the answer on the next non-empty line, if that line holds just a number
        nxt = next((ln for ln in text[line_end:].split("\n") if ln.strip()), "")
        return next(_numbers(nxt), None) if _is_number_line(nxt) else None
    # (b) a computation shown after the marker: the result after the sentence's last "="
    end = _SENTENCE_END_RE.search(text, first.end())
    sentence_end = len(text) if end is None else end.start()
    eq = text.find("=", first.end(), sentence_end)
    if eq >= 0 and _EXPRESSION_RE.fullmatch(text, first.end(), eq):
        last_eq = text.rfind("=", first.end(), sentence_end)
        result = next(_numbers(text[:sentence_end], last_eq + 1), None)
        if result is not None:
            return result
    return _value(first)


def _extract(text: str) -> tuple[str | None, str]:
    """Return (canonical number or None, rule that fired) under the module's answer policy."""
    text = cut_response(text)
    for marker in reversed(list(_MARKER_RE.finditer(text))):
        value = _marker_answer(text, marker)
        if value is not None:
            return canonical(value), "answer_phrase"
    last = None
    for last in _numbers(text):  # noqa: B007 - the loop keeps the last one
        pass
    if last is not None:
        return canonical(last), "last_number"
    return None, "no number in response"


def extract_answer(text: str) -> str | None:
    r"""Extract the final numeric answer from a model response (the module docstring's policy).

    Cut at a new ``Question:``/``Q:``/``Problem:`` line; the answer of the last marker that counts
    (``####`` before a number, ``answer is``, ``answer:``, ``\boxed{`` with a number on its line;
    the result of a computation shown there), else the last number; numbers read by value.

    Args:
        text: the response.

    Returns:
        The value in canonical form (see :func:`canonical`: ``"9500"``, ``"0.5"``, ``"1/3"``), or
        ``None`` if the part read holds no number.
    """
    return _extract(text)[0]


def gold_answer(answer: str) -> str | None:
    r"""Return the canonical number after the last ``####`` of a GSM8K solution.

    Args:
        answer: a reference solution (``"...\n#### 1,234"``).

    Returns:
        The canonical text of the number (read by :func:`normalize_number`), or ``None`` if there
        is no ``####`` or what follows the last one is not a single number.
    """
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
    """Check one response against the item's gold number (exact equality of values)."""
    gold = item["answer"]
    extracted, how = _extract(response)
    equal = extracted is not None and parse_value(extracted) == parse_value(gold)
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
