r"""MMLU-Redux: 57 MMLU subjects x 100 questions, re-annotated for errors (Gema et al. 2024).

Source: aryopg/mmlu-redux @ 4563cfa7, ``mmlu_redux/`` (CC-BY-4.0; Gema et al., "Are We Done with
MMLU?", arXiv:2406.04127). One CSV per subject (``mmlu_<subject>.csv``) with columns
``question``, ``choices`` (a Python-literal list in a string), ``answer`` (0-based index of the
original MMLU answer), ``error_type`` (the annotators' label), ``source``, ``correct_answer``
(for ``wrong_groundtruth`` rows: the corrected answer, as a 0-based index in most files and as a
letter in a few; elsewhere free-text notes) and ``potential_reason``.

Quirks of the raw files handled here (each raises :class:`~goodbadgreedy.errors.DataError` naming
file and row when it cannot be handled):

* the delimiter is ``,`` or ``;`` (chosen by which one splits the header into the expected
  columns), column order differs (columns are mapped by header name), some headers carry extra
  unnamed, empty columns;
* one file is not UTF-8 (``mmlu_moral_scenarios.csv``, a Mac Roman byte ``0xD5`` = ``’``): the
  encoding is detected (:func:`decode_bytes`), logged as a warning and kept in the payload;
* ``error_type`` labels vary in case, spacing and spelling; they are mapped to :data:`ERROR_TYPES`;
* two questions contain U+0085 (a cp1252 ellipsis decoded as Latin-1), replaced by ``…``; one
  holds a stray U+FEFF, removed; Windows line ends inside fields become ``\n``.

Option ``wrong_groundtruth`` (what to do with the rows annotated ``wrong_groundtruth``):

* ``"corrected"`` (default): the gold answer is the annotators' ``correct_answer`` where they gave
  one, else the original MMLU answer (5 such rows);
* ``"original"``: keep the original MMLU answer everywhere (plain MMLU on these questions);
* ``"drop"``: leave those rows out (item ids of the other rows do not change).

Answer policy (applied in one place, :func:`extract_letter`; the prompt asks for "the letter of the
correct option"). Markdown emphasis (``*``, ``__``), backticks, ``$B$`` and ``\boxed{B}``/
``\text{B}``/``\textbf{B}`` wrappers are removed first, and so are quotes around a single letter
(``'C'``, ``‘C’``, ``"C"``, ``“C”`` are read as ``C``).

1. **A letter counts only when it stands alone**: an option letter ``A``..(one per option), not
   part of a word (``Bob``, ``B's``), bracketed or not (``B``, ``(B)``, ``[B]``). An unbracketed
   ``A`` or ``I`` followed by a lowercase word is the article or the pronoun ("A cell...",
   "I think..."), unless the word is one that follows an answer letter ("A is correct", "A or
   B"). A lowercase letter counts only after an answer phrase, when bracketed or followed by
   punctuation or the end (``answer: b``; not "the answer is a tricky one"), or as the reply's
   opening letter (``c) Berlin``).

   A letter that is **negated or eliminated** in its clause is no choice anywhere (statement,
   opening letter, letters anywhere, second letter of a hedge): after ``not``/``nor``/``neither``/
   ``eliminate``/``rule out``/``exclude`` (and their -s/-ed/-ing forms, optionally with
   ``option``/``choice``), or followed by ``is``/``are``/``was``/``seems`` + ``wrong``/
   ``incorrect``/``false``/``not correct``/``not right``/``not the answer``/``ruled out``/
   ``eliminated``/``excluded`` ("Definitely not A.", "A is wrong.", "Option A is incorrect.",
   "Eliminate A and B"; a list of letters joined by ``,``/``and``/``or``/``/`` is negated as a
   whole after a negation word or before a plural verb, "A and B are false"; before ``is``
   only its last letter is: "Answer: B, C is wrong" is B).
2. **Explicit answer statements**, and **the last one wins** (a model that revises itself, "Answer:
   B ... no. Answer: C", is scored on C):

   * an answer phrase then a letter: ``answer``, or ``correct``/``right``/``best``/``final``
     + ``option``/``choice``, followed by ``is``/``was``/``would be``/``should be``/``must be``/
     ``will be`` and/or ``:``/``=``, then optionally ``option``/``choice``/``letter``, then the
     letter ("Answer: C", "The answer is (C)", "answer is C", "The correct option is C", "Final
     answer: (c)", "**Answer:** C", "The answer is \boxed{C}"); "answer (C)" needs no verb, but
     without a verb, ``:``/``=`` or bracket there is no statement ("Answer A is wrong");
   * an answer phrase followed by exactly one option's **whole text** (the rest of its line,
     compared with case, spaces, quotes and a final period ignored; if no option matches so,
     with all punctuation ignored) names that option, before its letters are read: with the
     options ``Impacts``/``Erosion``/``Volcanism``/``A B and C``, "The answer is A B and C." is D
     (a text of one character is read as a letter: "The answer is C." is C even where an option's
     text is ``c``);
   * a letter **affirmed**: ``X is right``/``X is correct``/``X is the answer``/``X is the best
     option`` (also ``Option X is correct``, ``X must be ...``, with ``actually``/``clearly``...),
     so "The answer is D. Hmm, actually C is right." is C;
   * ``it's X``/``it is X`` after a **correction** word of the same sentence (``actually``,
     ``correction``, ``wait``, ``no``, ``sorry``, ``rather``, ``instead``, ...): "Answer: D\n\nWait,
     correction: it's C." is C;
   * a line that holds only a letter (``C``, ``(C)``, ``C.``, ``**C**``);
   * the reply opening with a letter: ``C``, ``(C)``, ``C.``, ``C)``/``C:``/``C,`` then text,
     ``C`` then a line break (a letter of an option only; "E. coli ..." with four options is not
     one).

   Lines that start with consecutive option letters (``A. ...``, ``B. ...``, ``C. ...``) are the
   reply listing the options, not choosing one: such lines are no statements (an echo of the
   options gives no answer; "A) wrong / B) wrong / C) right" then a line ``C`` is C: that last
   line repeats C, it does not continue the list).

   The last statement gives no answer when it is **hedged** ("either A or C", "between B and D",
   "A or B", "B and C", "B/C", "B, C"; the hedge must be inside the statement: "Either A or C
   seems right, but the answer is C" is C) or its letter is **out of range** ("The answer is E"
   with four options). Only letter hedges count: a hedging word ("Probably C", "I think C") leaves
   the letter C.
3. **No statement**: bracketed letters (``(B)``, ``[B]``) and "Option B"/"choice B" anywhere, if
   they name exactly one option; else standalone capital letters anywhere (rule 1), if they name
   exactly one option. Several different letters ("A or B", "Option A is wrong, option C is
   right") give no answer.
4. **No letter at all**: a reply that names exactly one option's text chooses it ("The capital is
   Berlin." -> the "Berlin" option): the option's text (case, spaces, quotes and a final period
   ignored) occurs in the reply as whole words; an option found only inside a longer option that
   is also named does not count ("Paris, Texas" names that option, not "Paris"). The text after
   the last answer phrase is tried first ("Paris and London are wrong; the answer is Berlin"),
   then the whole reply. Two options named ("Paris or London") give no answer.
5. Everything else (refusals such as "I don't know", "None of the above" when it is no option,
   empty replies) gives no answer: ``extracted`` is null and the verdict ``no_answer`` (scored 0).

Other harnesses were looked at, none copied: OpenAI simple-evals reads the first
``Answer\s*:\s*([A-D])`` after stripping markdown/LaTeX; Inspect reads an ``ANSWER: X`` line (in
recent versions the last labelled answer, because models revise themselves); lm-evaluation-harness'
generative MMLU tasks take the first "The answer is (X)" (strict) or a choice-text/letter regex
(flexible). The policy here keeps the simple-evals/Inspect statement form, takes the last one like
recent Inspect, and adds the option-text and leading-letter readings for short replies.
"""

from __future__ import annotations

import ast
import csv
import io
import logging
import re
import string
import unicodedata
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import mmlu_redux as _spec
from goodbadgreedy.check_table import Judgement
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.prompts import Prompt

log = logging.getLogger(__name__)

#: The declaration (goodbadgreedy.benchmarks.specs.mmlu_redux): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
#: The 57 MMLU subjects (Hendrycks et al. 2021), one CSV each.
SUBJECTS: tuple[str, ...] = _spec.SUBJECTS
RAW_FILES: tuple[str, ...] = SPEC.raw_files

#: ``wrong_groundtruth``: ``"corrected"``, ``"original"`` or ``"drop"`` (see the module doc).
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()
WRONG_GROUNDTRUTH_MODES = tuple(SPEC.options["wrong_groundtruth"]["enum"])

#: The normalized ``error_type`` vocabulary (``unlabelled``: the annotators left it empty).
ERROR_TYPES: tuple[str, ...] = (
    "ok",
    "wrong_groundtruth",
    "no_correct_answer",
    "multiple_correct_answers",
    "bad_question_clarity",
    "bad_options_clarity",
    "expert",
    "unlabelled",
)

#: Columns every file must have (others are ignored).
REQUIRED_COLUMNS = ("question", "choices", "answer", "error_type", "correct_answer")

#: Single-byte encodings tried, in order, when a file is not UTF-8.
FALLBACK_ENCODINGS = ("cp1252", "mac_roman")

INSTRUCTION = "Answer with the letter of the correct option ({letters})."


# --------------------------------------------------------------------------------------------
# Reading the raw files


def _plausibility(text: str) -> int:
    """Score how English-like the non-ASCII characters of ``text`` are (higher is better).

    Typographic punctuation (quotes, dashes, ellipsis) scores 2, lowercase accented letters 1, an
    uppercase accented letter right after a lowercase ASCII letter -1 (the typical mojibake, e.g.
    ``sisterÕs``), control and unassigned characters -2.
    """
    score = 0
    for i, ch in enumerate(text):
        if ord(ch) < 128:
            continue
        cat = unicodedata.category(ch)
        if "\u2010" <= ch <= "\u2027" or ch in "«»":
            score += 2
        elif cat == "Ll":
            score += 1
        elif cat == "Lu" and i > 0 and text[i - 1].isascii() and text[i - 1].islower():
            score -= 1
        elif cat in ("Cc", "Cn", "Co"):
            score -= 2
    return score


def decode_bytes(raw: bytes, *, where: str) -> tuple[str, str]:
    """Decode a raw CSV file: UTF-8 (with or without BOM), else the likeliest single-byte code.

    A non-UTF-8 file is decoded with each of :data:`FALLBACK_ENCODINGS` and the decoding whose
    non-ASCII characters look most like English text wins (:func:`_plausibility`; ties go to
    the earlier encoding). The choice is logged as a warning naming the file.

    Args:
        raw: the file's bytes.
        where: the file name, for messages.

    Returns:
        (text, encoding name).

    Raises:
        goodbadgreedy.errors.DataError: no candidate encoding decodes the bytes.
    """
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    best: tuple[int, str, str] | None = None
    for enc in FALLBACK_ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        score = _plausibility(text)
        if best is None or score > best[0]:
            best = (score, enc, text)
    if best is None:
        raise DataError(
            f"{where}: not UTF-8 (first bad byte at offset {first_bad}) nor {FALLBACK_ENCODINGS}"
        )
    n_high = sum(b >= 0x80 for b in raw)
    log.warning(
        "%s is not UTF-8 (first bad byte at offset %d); decoded as %s (%d non-ASCII byte(s))",
        where, first_bad, best[1], n_high,
    )  # fmt: skip
    return best[2], best[1]


def _records(text: str, delimiter: str) -> list[list[str]]:
    # newline="" keeps quoted line breaks intact and splits records only on \r, \n, \r\n (not on
    # U+0085 or U+2028, which occur inside fields).
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def read_table(text: str, *, where: str) -> tuple[list[str], list[list[str]]]:
    """Parse one MMLU-Redux CSV, detecting its delimiter.

    The delimiter is whichever of ``,`` and ``;`` splits the header line into a set of names
    holding all of :data:`REQUIRED_COLUMNS`.

    Args:
        text: the decoded file.
        where: the file name, for messages.

    Returns:
        (header with names stripped and lower-cased, data records as lists of cells).

    Raises:
        goodbadgreedy.errors.DataError: no (or both) delimiters give the required columns, a
            column name repeats, a record has a different number of cells than the header, or an
            unnamed column holds a value (file and row named).
    """
    first_line = text.split("\n", 1)[0]
    fits = []
    for d in (",", ";"):
        head = next(csv.reader([first_line], delimiter=d), [])
        names = {h.strip().lower() for h in head}
        if all(c in names for c in REQUIRED_COLUMNS):
            fits.append(d)
    if len(fits) != 1:
        raise DataError(
            f"{where}: cannot tell the delimiter; the header {first_line.strip()[:120]!r} must "
            f"hold {list(REQUIRED_COLUMNS)} when split by exactly one of ',' ';'"
        )
    records = _records(text, fits[0])
    header = [h.strip().lower() for h in records[0]]
    named = [h for h in header if h]
    if len(named) != len(set(named)):
        raise DataError(f"{where}: repeated column name in header {header}")
    body = records[1:]
    while body and not any(c.strip() for c in body[-1]):
        body.pop()  # trailing blank lines
    for r, rec in enumerate(body):
        if len(rec) != len(header):
            raise DataError(
                f"{where}: data row {r} has {len(rec)} cells, the header has {len(header)}"
            )
        for h, cell in zip(header, rec, strict=False):
            if not h and cell.strip():
                raise DataError(
                    f"{where}: data row {r} has a value in an unnamed column: {cell[:60]!r}"
                )
    return header, body


_ERROR_TYPE_ALIASES = {
    "": "unlabelled",
    "ok": "ok",
    "wrong_groundtruth": "wrong_groundtruth",
    "wrong_ground_truth": "wrong_groundtruth",
    "no_correct_answer": "no_correct_answer",
    "multiple_correct_answers": "multiple_correct_answers",
    "multiple_correct_answer": "multiple_correct_answers",
    "bad_question_clarity": "bad_question_clarity",
    "bad_options_clarity": "bad_options_clarity",
    "bad_option_clarity": "bad_options_clarity",
    "expert": "expert",
}


def normalize_error_type(label: str, *, where: str = "?") -> str:
    """Map a raw ``error_type`` label to :data:`ERROR_TYPES`.

    Case, surrounding space and the separators space/hyphen/underscore are ignored
    (``"Wrong Groundtruth"``, ``"wrong_groundtruth "`` -> ``"wrong_groundtruth"``); an empty label
    is ``"unlabelled"``.

    Args:
        label: the raw label.
        where: file and row, for the error message.

    Raises:
        goodbadgreedy.errors.DataError: the label is not a known spelling (the message names it
            and ``where``).
    """
    key = re.sub(r"[\s_\-]+", "_", label.strip().lower()).strip("_")
    try:
        return _ERROR_TYPE_ALIASES[key]
    except KeyError:
        raise DataError(
            f"{where}: unknown error_type label {label!r}; known: {ERROR_TYPES}"
        ) from None


def parse_choices(cell: str, *, where: str = "?") -> list[str]:
    """Parse the ``choices`` cell, a Python-literal list of strings (``"['a', 'b']"``).

    Raises:
        goodbadgreedy.errors.DataError: the cell is not a literal list/tuple of at least two
            strings or numbers (``where`` named).
    """
    try:
        value = ast.literal_eval(cell.strip())
    except (ValueError, SyntaxError) as exc:
        raise DataError(
            f"{where}: choices is not a Python literal list ({exc}): {cell[:80]!r}"
        ) from None
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise DataError(f"{where}: choices must be a list of at least 2 options: {cell[:80]!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise DataError(f"{where}: choice {v!r} is not text")
        out.append(_clean(str(v)))
    return out


def parse_correct_answer(cell: str, choices: Sequence[str], *, where: str = "?") -> str | None:
    """Parse a ``wrong_groundtruth`` row's ``correct_answer`` into a letter.

    The raw data holds a 0-based index (``"2"``) in most files and a letter (``"C"``) in
    ``college_chemistry``, ``virology`` and one ``global_facts`` row; the full text of one option
    is accepted too. An empty cell means the annotators gave no correction.

    Args:
        cell: the raw cell.
        choices: the item's options.
        where: file and row, for the error message.

    Returns:
        The letter, or ``None`` for an empty cell.

    Raises:
        goodbadgreedy.errors.DataError: the cell is neither empty, an index or letter in range,
            nor the text of exactly one option.
    """
    s = cell.strip()
    if not s:
        return None
    letters = string.ascii_uppercase[: len(choices)]
    if s.isdigit() and int(s) < len(choices):
        return letters[int(s)]
    if len(s) == 1 and s.upper() in letters:
        return s.upper()
    hits = [i for i, c in enumerate(choices) if c.strip() == s]
    if len(hits) == 1:
        return letters[hits[0]]
    raise DataError(
        f"{where}: correct_answer {cell[:60]!r} of a wrong_groundtruth row is not an index, "
        f"a letter in {letters} or an option's text"
    )


def _clean(text: str) -> str:
    """Normalize line ends, drop stray BOMs, repair the U+0085 mojibake (a cp1252 ellipsis)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return text.replace("\x85", "…")


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    if opts["wrong_groundtruth"] not in WRONG_GROUNDTRUTH_MODES:
        raise ConfigError(
            f"benchmark {NAME!r}: option 'wrong_groundtruth' must be one of "
            f"{WRONG_GROUNDTRUTH_MODES}, got {opts['wrong_groundtruth']!r}"
        )
    return opts


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load all 57 MMLU-Redux subject files into one benchmark table.

    Args:
        raw_dir: folder holding :data:`RAW_FILES` (``data/raw/mmlu_redux``).
        options: ``wrong_groundtruth`` (``corrected``/``original``/``drop``, see the module doc).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows, subjects in :data:`SUBJECTS` order, rows in file order:
        ``item_id`` ``mmlu_redux/{subject}/{row:03d}`` (0-based data row), ``category`` the
        subject, ``choices`` the options, ``answer`` a letter; ``payload`` holds ``error_type``
        (normalized), ``original_answer`` (letter), ``corrected_answer`` (letter or null),
        ``answer_source`` (``original``/``corrected``), ``file``, ``row`` and ``encoding``.

    Raises:
        goodbadgreedy.errors.DataError: a file is missing or malformed (see :func:`read_table`,
            :func:`normalize_error_type`, :func:`parse_choices`, :func:`parse_correct_answer`), a
            question is empty, or ``answer`` is not an index into the choices (file and row named).
        goodbadgreedy.errors.ConfigError: bad options.
    """
    opts = _options(options)
    mode = opts["wrong_groundtruth"]
    rows: list[dict[str, Any]] = []
    uncorrected: list[str] = []  # wrong_groundtruth rows without a correct_answer
    same: list[str] = []  # wrong_groundtruth rows whose correct_answer is the original answer
    for subject, fname in zip(SUBJECTS, RAW_FILES, strict=True):
        path = base.require_file(Path(raw_dir) / fname)
        text, encoding = decode_bytes(path.read_bytes(), where=fname)
        header, body = read_table(text, where=fname)
        col = {h: i for i, h in enumerate(header) if h}
        for r, rec in enumerate(body):
            where = f"{fname} data row {r}"
            question = _clean(rec[col["question"]]).strip()
            if not question:
                raise DataError(f"{where}: empty question")
            choices = parse_choices(rec[col["choices"]], where=where)
            letters = string.ascii_uppercase[: len(choices)]
            raw_answer = rec[col["answer"]].strip()
            if not raw_answer.isdigit() or int(raw_answer) >= len(choices):
                raise DataError(
                    f"{where}: answer {raw_answer!r} is not a 0-based index into "
                    f"{len(choices)} choices"
                )
            original = letters[int(raw_answer)]
            error_type = normalize_error_type(rec[col["error_type"]], where=where)
            corrected = None
            if error_type == "wrong_groundtruth":
                if mode == "drop":
                    continue
                corrected = parse_correct_answer(rec[col["correct_answer"]], choices, where=where)
                if corrected is None:
                    uncorrected.append(where)
                elif corrected == original:
                    same.append(where)
            use_corrected = mode == "corrected" and corrected is not None
            rows.append(
                {
                    "item_id": f"{NAME}/{subject}/{r:03d}",
                    "benchmark": NAME,
                    "category": subject,
                    "question": question,
                    "choices": choices,
                    "answer": corrected if use_corrected else original,
                    "payload": base.dump_payload(
                        {
                            "error_type": error_type,
                            "original_answer": original,
                            "corrected_answer": corrected,
                            "answer_source": "corrected" if use_corrected else "original",
                            "file": fname,
                            "row": r,
                            "encoding": encoding,
                        }
                    ),
                }
            )
    if uncorrected and mode == "corrected":
        log.warning(
            "%d wrong_groundtruth row(s) give no correct_answer; they keep the original answer: %s",
            len(uncorrected), "; ".join(uncorrected),
        )  # fmt: skip
    if same:
        log.warning(
            "%d wrong_groundtruth row(s) give the original answer as correct_answer: %s",
            len(same), "; ".join(same),
        )  # fmt: skip
    return base.benchmark_frame(rows, name=NAME)


# --------------------------------------------------------------------------------------------
# Prompt


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    """Build the zero-shot prompt of one item.

    One user message: a line naming the subject, the question, the lettered options
    (``"A. ..."``), and :data:`INSTRUCTION`.

    Args:
        item: one benchmark-table row (``question``, ``choices``, ``category``).
        options: benchmark options (validated; the prompt uses none).

    Returns:
        The prompt (no assistant prefix, no stop sequences: the answer is extracted from the
        whole response).

    Raises:
        goodbadgreedy.errors.DataError: the item has fewer than two choices (item_id named).
        goodbadgreedy.errors.ConfigError: bad options.
    """
    _options(options)
    choices = list(item["choices"] or [])
    if len(choices) < 2:
        raise DataError(f"item {item.get('item_id')!r}: needs at least 2 choices")
    letters = string.ascii_uppercase[: len(choices)]
    subject = str(item.get("category") or "").replace("_", " ")
    lines = [f"The following is a multiple choice question about {subject}.", ""]
    lines += [item["question"], ""]
    lines += [f"{letter}. {choice}" for letter, choice in zip(letters, choices, strict=False)]
    listed = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    lines += ["", INSTRUCTION.format(letters=listed)]
    return Prompt(messages=({"role": "user", "content": "\n".join(lines)},))


# --------------------------------------------------------------------------------------------
# Letter extraction (the answer policy of the module docstring)

# Words that may follow an answer letter ("A is correct", "A or B"); any other lowercase word after
# an unbracketed "A" or "I" makes it the article or the pronoun ("A good answer is C", "I think").
_AFTER_LETTER_WORDS = frozenset(
    "is was would will should seems seem appears looks because since as and or but only must "
    "can could best fits matches answers correctly here then so for with being remains".split()
)
_WORD_AFTER = re.compile(r"\s+([a-z][a-z'’-]*)")
_END_AFTER = re.compile(r"\s*(?:$|[.,;:!?)\]\n])")
# a letter: optionally bracketed, not part of a word
_LETTER = r"(?P<open>[(\[]?)[ \t]*(?P<letter>[A-Za-z])[ \t]*(?P<close>[)\]]?)(?![A-Za-z0-9'’])"
# an answer phrase: "answer" or "correct/right/best/final option/choice", a verb and/or ":"/"=",
# "option"/"choice"/"letter", then a hedge word if any, then the letter
_PHRASE = re.compile(
    r"(?:\banswer\b|\b(?:correct|right|best|final)\s+(?:option|choice)\b)"
    r"(?P<verb>\s+(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be)\b)?"
    r"\s*(?P<colon>[:=])?\s*(?:(?:option|choice|letter)\s*)?"
    r"(?P<hedge>(?:either|between|both)\s+)?" + _LETTER,
    re.IGNORECASE,
)
# the same phrase without the letter (where the text after it is read for an option's text)
_PHRASE_ONLY = re.compile(
    r"(?:\banswer\b|\b(?:correct|right|best|final)\s+(?:option|choice)\b)"
    r"(?:\s+(?:is|was|would\s+be|should\s+be|must\s+be|will\s+be)\b)?\s*[:=]?",
    re.IGNORECASE,
)
# a line holding only a letter
_LETTER_LINE = re.compile(r"^[ \t>#-]*" + _LETTER + r"[ \t]*[.:]?[ \t]*$", re.MULTILINE)
# the reply opening with a letter: "B", "B.", "(B)", "B) ...", "B: ...", "B\n..."
_LEADING = re.compile(r"\s*[(\[]?(?P<letter>[A-Za-z])(?:[)\].:,]|\s*$|\s*\n)")
# a line starting with a letter marker ("A. text", "B) text", "C" alone): an entry of a list
_LINE_MARK = re.compile(r"^[ \t>#-]*[(\[]?(?P<letter>[A-Z])(?:[.):\]]|[ \t]*$)", re.MULTILINE)
# a second letter joined to a statement's letter: "A or B", "B and C", "B/C", "B, C"
_HEDGE_TAIL = re.compile(
    r"\s*(?:,|/|&|\bor\b|\band\b)\s*(?:(?:option|choice)\s*)?[(\[]?(?P<letter>[A-Z])[)\]]?(?![A-Za-z0-9'’])",
    re.IGNORECASE,
)
# a bracketed letter or "Option B"/"choice B" anywhere
_DECORATED = re.compile(
    r"\((?P<a>[A-Z])\)|\[(?P<b>[A-Z])\]|\b(?:option|choice)\s+\(?(?P<c>[A-Z])\b\)?", re.IGNORECASE
)
# a standalone capital letter
_BARE = re.compile(r"(?<![A-Za-z0-9'’])(?P<letter>[A-Z])(?![A-Za-z0-9'’])")
# a quoted letter: 'C', ‘C’, "C", “C” -> C
_QUOTED_LETTER = re.compile(r"(?<![\w'’])['‘\"“][ \t]*([A-Za-z])[ \t]*['’\"”](?!\w)")
# a list of capital letters ("A", "(A)", "A, B and D", "A/B"), the letters of a negation
_LETTER_LIST = (
    r"(?P<list>[(\[]?[A-Z][)\]]?(?:[ \t]*(?:,|\band\b|\bor\b|&|/)[ \t]*"
    r"(?:(?i:option|choice)[ \t]+)?[(\[]?[A-Z][)\]]?)*)(?![A-Za-z0-9'’])"
)
# a negated or eliminated letter: "not A", "eliminate A", "rule out A and B", "exclude option C"
_NEG_BEFORE = re.compile(
    r"(?i:\b(?:not|nor|neither|eliminat(?:e|es|ed|ing)|rul(?:e|es|ed|ing)\s+out|exclud(?:e|es|ed|ing))"
    r"\s+(?:(?:options?|choices?|letters?)\s+)?)" + _LETTER_LIST
)
# "A is wrong", "Option A is incorrect", "C is not correct", "D is ruled out"; a list of letters
# only with a plural verb ("A and B are false"), so "B, C is wrong" negates C alone
_NEG_PREDICATE = (
    r"(?:(?:definitely|clearly|obviously|also|certainly|simply|plainly)\s+)?"
    r"(?:wrong|incorrect|false|not\s+(?:correct|right|true|the\s+(?:\w+\s+)?answer)|"
    r"ruled\s+out|eliminated|excluded)\b"
)
_NEG_AFTER = re.compile(
    r"(?<![A-Za-z0-9'’])(?P<list>[A-Z])[)\]]?(?i:\s+(?:is|was|seems|looks)\s+" + _NEG_PREDICATE + ")"
)
_NEG_AFTER_PLURAL = re.compile(
    r"(?<![A-Za-z0-9'’])" + _LETTER_LIST + r"(?i:\s+(?:are|were|seem|look)\s+" + _NEG_PREDICATE + ")"
)
# a letter affirmed: "C is right", "Option C is correct", "C is the answer", "C is the best choice"
_AFFIRM = re.compile(
    r"(?<![A-Za-z0-9'’])(?:(?i:option|choice)\s+)?[(\[]?(?P<letter>[A-Z])[)\]]?(?i:\s+(?:is|must\s+be)\s+"
    r"(?:(?:definitely|clearly|actually|indeed|really|certainly|in\s+fact)\s+)?"
    r"(?:right|correct|(?:the\s+)?(?:(?:right|correct|best|final)\s+)?(?:answer|option|choice))\b)"
)
# "it's C" / "it is C" after a correction word in the same sentence ("Wait, correction: it's C")
_CORRECTION = re.compile(
    r"(?i:\b(?:actually|correction|wait|no|sorry|oops|rather|instead|on\s+second\s+thought|i\s+mean)\b"
    r"[^.\n]{0,40}?\bit(?:'s|’s|\s+is)\s+)" + _LETTER
)
# LaTeX wrappers: \boxed{B}, \text{B}, \textbf{B}, \mathrm{B} -> (B); math dollars around a letter: $B$ -> B
_LATEX = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf)\{\s*([^{}]*?)\s*\}")
_DOLLAR_LETTER = re.compile(r"\$\s*([(\[]?[A-Za-z][)\]]?)\s*\$")


def _is_word_letter(text: str, letter: str, end: int) -> bool:
    """True if an unbracketed "A"/"I" ending at ``end`` is the article/pronoun ("A cell", "I think")."""
    if letter not in "AI":
        return False
    m = _WORD_AFTER.match(text, end)
    return m is not None and m.group(1) not in _AFTER_LETTER_WORDS


def _standalone(text: str, m: re.Match[str]) -> str | None:
    """The letter of a :data:`_LETTER` match if it stands alone (policy rule 1), else None."""
    letter = m.group("letter")
    bracketed = bool(m.group("open") or m.group("close"))
    if letter.islower():
        return letter.upper() if bracketed or _END_AFTER.match(text, m.end()) else None
    if not bracketed and _is_word_letter(text, letter, m.end("letter")):
        return None
    return letter


def _hedged_after(text: str, end: int, negated: set[int] | frozenset[int] = frozenset()) -> bool:
    """True if another standalone, not negated letter is joined to the statement's letter at ``end``."""
    m = _HEDGE_TAIL.match(text, end)
    if m is None:
        return False
    letter = m.group("letter")
    return (
        letter.isupper()
        and not _is_word_letter(text, letter, m.end("letter"))
        and m.start("letter") not in negated
    )


def _negated(t: str) -> set[int]:
    """Offsets of the capital letters that are negated or eliminated (policy rule 1)."""
    out: set[int] = set()
    for rx in (_NEG_BEFORE, _NEG_AFTER, _NEG_AFTER_PLURAL):
        for m in rx.finditer(t):
            a, b = m.span("list")
            out.update(a + i for i, ch in enumerate(t[a:b]) if "A" <= ch <= "Z")
    return out


def _squash(s: str) -> str:
    """Lower case, punctuation dropped, spaces collapsed: the form option texts are compared in."""
    return " ".join(re.sub(r"[^\w\s]", " ", s).lower().split())


def _listing_lines(t: str) -> set[int]:
    """Start offsets of the lines that list options: runs of >= 2 consecutive letter markers.

    Successive line markers whose letters follow each other (``A.``, ``B.``, ``C.`` ...) are the
    reply listing (echoing) the options, not choosing one.
    """
    marks = [(m.start(), m.group("letter")) for m in _LINE_MARK.finditer(t)]
    listed: set[int] = set()
    for (p0, a), (p1, b) in zip(marks, marks[1:], strict=False):
        if ord(b) == ord(a) + 1:
            listed.update((p0, p1))
    return listed


def _statements(
    t: str,
    letters: str,
    choices: Sequence[str] | None = None,
    negated: set[int] | frozenset[int] = frozenset(),
) -> list[tuple[int, str | None, str]]:
    """The explicit answer statements of ``t`` as (position, letter or None, how), in order."""
    found: list[tuple[int, str | None, str]] = []
    listed = _listing_lines(t)

    def in_list(pos: int) -> bool:
        return t.rfind("\n", 0, pos) + 1 in listed

    # an answer phrase followed by exactly one option's whole text ("The answer is A B and C.")
    by_text: set[int] = set()
    if choices:
        squashed = [_squash(c) for c in choices]
        for m in _PHRASE_ONLY.finditer(t):
            rest = _squash(t[m.end() :].split("\n", 1)[0])
            if len(rest) == 1:
                continue  # a single letter is read as a letter (options "c", "C" of physics, EE)
            exact = _norm_text(t[m.end() :].split("\n", 1)[0])
            hits = [i for i, c in enumerate(choices) if _norm_text(c) == exact]
            if not hits:
                hits = [i for i, c in enumerate(squashed) if c and c == rest]
            if len(hits) == 1:
                found.append((m.start(), letters[hits[0]], "option_text_statement"))
                by_text.add(m.start())
    for m in _PHRASE.finditer(t):
        if m.start() in by_text:
            continue
        letter = _standalone(t, m)
        if letter is None or m.start("letter") in negated:
            continue  # not a letter, or a negated one ("The answer: A is wrong")
        if not (m.group("verb") or m.group("colon") or m.group("open")):
            continue  # "Answer A is wrong": no verb, colon or bracket, so no statement
        if m.group("hedge") or _hedged_after(t, m.end(), negated):
            found.append((m.start(), None, "hedged"))
        else:
            found.append((m.start(), letter, "answer_phrase"))
    for m in _LETTER_LINE.finditer(t):
        letter = _standalone(t, m)
        if letter is not None and letter.isupper() and not in_list(m.start("letter")):
            found.append((m.start(), letter, "letter_line"))
    for m in _AFFIRM.finditer(t):
        if not _hedged_after(t, m.end("letter"), negated):
            found.append((m.start(), m.group("letter"), "affirmed_letter"))
    for m in _CORRECTION.finditer(t):
        letter = _standalone(t, m)
        if letter is not None:
            found.append((m.start("letter"), letter, "correction"))
    m = _LEADING.match(t)
    if m and m.group("letter").upper() in letters and not in_list(m.start("letter")):
        if m.start("letter") not in negated:
            found.append((0, m.group("letter").upper(), "leading_letter"))
    return sorted(found, key=lambda s: s[0])


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().strip("\"'“”‘’").rstrip(".").strip().lower()


def _named_options(text: str, choices: Sequence[str]) -> set[int]:
    """Indices of the options whose text ``text`` names as whole words (longer options shadow)."""
    hay = re.sub(r"\s+", " ", text).lower()
    spans: dict[int, list[tuple[int, int]]] = {}
    for i, choice in enumerate(choices):
        needle = _norm_text(choice)
        if not needle:
            continue
        pattern = (r"(?<!\w)" if needle[0].isalnum() else "") + re.escape(needle)
        pattern += r"(?!\w)" if needle[-1].isalnum() else ""
        found = [(m.start(), m.end()) for m in re.finditer(pattern, hay)]
        if found:
            spans[i] = found
    named = set()
    for i, occ in spans.items():
        inside_longer = all(
            any(j != i and a <= s and e <= b and (b - a) > (e - s) for j in spans for a, b in spans[j])
            for s, e in occ
        )
        if not inside_longer:
            named.add(i)
    return named


def _extract_letter(text: str, n_choices: int, choices: Sequence[str] | None) -> tuple[str | None, str]:
    """Return (letter or None, rule that fired) under the module's answer policy."""
    letters = string.ascii_uppercase[:n_choices]
    t = _DOLLAR_LETTER.sub(r"\1", _LATEX.sub(r"(\1)", text))
    t = t.replace("*", "").replace("`", "").replace("__", "")
    t = _QUOTED_LETTER.sub(r"\1", t)
    negated = _negated(t)

    # 2. explicit statements: the last one wins
    statements = _statements(t, letters, choices, negated)
    if statements:
        _, letter, how = statements[-1]
        if letter is None:
            return None, how
        if letter not in letters:
            return None, f"out of range: {letter}"
        return letter, how

    # 3. letters anywhere: bracketed / "Option B" first, then standalone capitals
    decorated = set()
    for m in _DECORATED.finditer(t):
        letter = m.group("a") or m.group("b") or m.group("c")
        if m.group("c") and letter.islower():
            continue
        if m.start("a" if m.group("a") else "b" if m.group("b") else "c") in negated:
            continue
        if letter.upper() in letters:
            decorated.add(letter.upper())
    bare = {
        m.group("letter")
        for m in _BARE.finditer(t)
        if m.group("letter") in letters
        and not _is_word_letter(t, m.group("letter"), m.end())
        and m.start() not in negated
    }
    for found, how in ((decorated, "decorated_letter"), (bare, "bare_letter")):
        if len(found) == 1:
            return found.pop(), how
        if len(found) > 1:
            return None, f"ambiguous: {''.join(sorted(found))}"

    # 4. no letter: the text of exactly one option (after the last answer phrase, else anywhere)
    if choices:
        phrases = list(_PHRASE_ONLY.finditer(t))
        candidates = [t[phrases[-1].end() :].split("\n", 1)[0]] if phrases else []
        for cand in candidates + [t]:
            named = _named_options(cand, choices)
            if len(named) == 1:
                return letters[named.pop()], "option_text"
    return None, "no option letter in response"


def extract_letter(text: str, n_choices: int = 4, choices: Sequence[str] | None = None) -> str | None:
    r"""Extract the chosen option letter from a multiple-choice response (the module's policy).

    The last explicit answer statement wins ("Answer: C", "The answer is (C)", a letter-only line,
    a reply opening with a letter); a hedged or out-of-range last statement gives None. Without
    a statement: a single bracketed/"Option X" letter, else a single standalone capital letter;
    without any letter: the text of exactly one option. See the module docstring for each form.

    Args:
        text: the response.
        n_choices: number of options (letters ``A``.. up to it).
        choices: the option texts, for the option-text rule (optional).

    Returns:
        The upper-case letter, or ``None`` (no answer: hedged, out of range, several letters,
        no letter and not exactly one option's text, refusal).
    """
    return _extract_letter(text, n_choices, choices)[0]


def judge(item: dict[str, Any], response: str) -> Judgement:
    """Check one response against the item's gold letter."""
    choices = list(item["choices"] or [])
    gold = item["answer"]
    extracted, how = _extract_letter(response, len(choices), choices)
    return base.verdict_for(extracted, gold, extracted == gold, how)


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any]) -> pl.DataFrame:
    """Score MMLU-Redux responses.

    Args:
        items: the MMLU-Redux benchmark table.
        generations: a generation table (``tables.GENERATION_SCHEMA``).
        options: benchmark options (validated).

    Returns:
        ``tables.CHECK_SCHEMA`` rows, one per generation row in the same order: ``extracted`` the
        letter (null if none), ``gold`` the item's letter, ``score`` 1.0/0.0, ``verdict``
        ``correct``/``wrong``/``no_answer``, ``detail`` the rule that fired.

    Raises:
        goodbadgreedy.errors.DataError: a generation refers to an unknown item_id (named), or a
            required column is missing.
    """
    _options(options)
    return base.check_each(items, generations, judge, name=NAME)
