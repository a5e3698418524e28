"""GSM8K: loading, the answer policy (module docstring of goodbadgreedy.benchmarks.gsm8k), prompt, check.

Each clause of the answer policy has its own test below, with the value it must give and a
negative control (a near miss the rule must treat differently), so that a test fails when its
clause is not implemented.
"""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.benchmarks import gsm8k
from goodbadgreedy.checksums import files_of, read_sums
from goodbadgreedy.data import verify_files
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.reranking.self_consistency import vote_shares
from goodbadgreedy.stats.estimators import maj_at_k

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "gsm8k"
X = gsm8k.extract_answer


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    return gsm8k.load(RAW, {})


def _judge(gold: str, response: str) -> str:
    return gsm8k.judge({"answer": gold}, response).verdict


# ---------------------------------------------------------------- policy 1: the cut


def test_cut_at_a_new_question_line():
    """Only the text before a line beginning 'Question:' or 'Q:' (a new few-shot turn) is read."""
    invented = "Janet sells 9 eggs for $2 each, so 18 dollars.\nQuestion: Tom has 12 apples and eats 5. How many"
    assert X(invented) == "18"  # the numbers of the invented question (12, 5) are not read
    assert X(invented.replace("Question:", "Q:")) == "18"
    assert X("The answer is 3.\nQuestion: The answer is 4.") == "3"  # its marker is not read either
    assert X("So 18.\n  **Question:** Tom has 12 apples") == "18"  # indented / markdown line start
    assert X("The answer is 18.<|im_end|>\nThe answer is 5.") == "18"  # an end-of-turn marker cuts too
    assert X("Question: Tom has 12 apples.") is None  # a response that is only a new turn: nothing read
    # negative controls: a line not beginning with it is no cut, so the last number is read
    assert X(invented.replace("Question:", "Note:")) == "5"
    assert X("Restating the Question: 5 apples. The answer is 7.") == "7"
    assert gsm8k.cut_response("a\nQuestion: b") == "a\n"


def test_cut_at_a_numbered_question_or_problem_line():
    """A line beginning 'Question N:', 'Problem:' or 'Problem N:' also starts a new turn (cut)."""
    assert X("The answer is 18.\nQuestion 2: How many? The answer is 7") == "18"
    assert X("The answer is 18.\n**Problem:** Tom has 12 apples. The answer is 7") == "18"
    assert X("The answer is 18.\nProblem 3: The answer is 7") == "18"
    assert gsm8k.cut_response("a\nQuestion 12: b") == "a\n"
    # negative controls: a word after 'Question'/'Problem', or no line start, is no cut
    assert X("The answer is 18.\nQuestion two: The answer is 7") == "7"
    assert X("The answer is 18.\nThe Problem: the answer is 7") == "7"
    assert X("The answer is 18.\nProblems: the answer is 7") == "7"


# ---------------------------------------------------------------- policy 2-3: markers


@pytest.mark.parametrize(
    "text, expected",
    [
        ("So 9 * 2 = 18.\n#### 18\n", "18"),  # '####' counts only when its line is a number
        ("The answer is 18.", "18"),
        ("The final answer is 18", "18"),
        ("the answer is: **$18**", "18"),
        ("**Answer:** 18 dollars", "18"),
        ("Final Answer: 18", "18"),
        ("answer: 18", "18"),
        ("So she makes \\boxed{18} dollars.", "18"),
        ("The answer is $\\boxed{18}$.", "18"),
    ],
)
def test_each_marker_is_read(text, expected):
    """Each marker (####, answer is, answer:, \\boxed{), any case, gives the number after it."""
    assert X(text + " Then 7 more steps.") == expected  # a later number outside a marker is not read


def test_last_marker_wins_self_correction():
    """With several markers, the first number after the LAST one is the answer (self-correction)."""
    assert X("The answer is 18. Wait, I miscounted eggs: the answer is 20.") == "20"
    assert X("#### 18\nHmm, no. Answer: 20") == "20"
    assert X("Answer: 18. Let me recheck... \\boxed{20}") == "20"
    assert X("\\boxed{18} is wrong; the answer is 20") == "20"
    # negative control: one marker, then more numbers: the marker's number, not the last number
    assert X("The answer is 18. Check: 9 * 2 = 18, and 16 - 3 - 4 = 9.") == "18"


def test_first_number_after_the_marker():
    """After the last marker, the FIRST number is read, not the last one of the text."""
    assert X("The answer is 18 eggs, because 9 * 2 = 18 and 2 + 0 = 2") == "18"
    assert X("The answer is eighteen, so 18 eggs... no, 19?") == "18"
    # a \boxed{} is a marker: its first number; of a computation, the result after its last '='
    # (policy 2b, changed from the first number: 2); a box without a number reads the first
    # number after it on its line
    assert X("\\boxed{2 \\times 9 = 18}") == "18"
    assert X("\\boxed{2 \\times 9}") == "2"  # control: no '=', the first number
    assert X("\\boxed{\\$18 \\text{ dollars}}") == "18"
    assert X("\\boxed{\\text{eighteen}} (that is 18)") == "18"


def test_hash_marker_only_before_a_number():
    """'####' is a marker only when the rest of its line is just a number (GSM8K's '#### 18')."""
    heading = "#### Step 1: Eggs left\n16 - 3 - 4 = 9 eggs.\n#### Step 2: Money\n9 * 2 = 18 dollars"
    assert X(heading) == "18"  # markdown headings are no markers: the last number
    assert X("So 18 eggs.\n#### 1. Recheck\n9 + 9 = 18") == "18"
    # a number with its formatting, or one unit word, is still a marker line
    for line in ("#### 18", "#### $18.00", "#### **18**", "#### 18.", "#### 18 dollars"):
        assert X(f"9 * 2 = 18\n{line}\nCheck: 16 - 3 - 4 = 9") == "18", line
    # negative control: with '####' before a number, its number wins over a later last number
    assert X("#### 18\nCheck: 16 - 3 - 4 = 9") == "18"
    assert X("#### 2: Eggs left\nSo 9 * 2 = 18, then 5") == "5"  # '2: Eggs left' is not just a number


def test_a_marker_counts_only_with_its_answer_on_its_line():
    """A marker counts only with a number on its line, or a next non-empty line of just a number."""
    reasoning = "**Answer:**\n\nJanet's ducks lay 16 eggs, she eats 3 and bakes 4, so 9 * $2 = $18."
    assert X(reasoning) == "18"  # the marker is skipped: the last number (was 16)
    assert X("The answer is:\n\n**$18**\n\nbecause 9 * 2 = 18 and 3 + 4 = 7") == "18"  # next line a number
    assert X("Final answer:\n18 eggs\nso 7") == "18"
    assert X("The answer is 16.\nAnswer:\nwe saw 9 * 2 = 18 above") == "16"  # an earlier marker is used
    # negative controls: a next line that is more than a number; a number on the marker's line
    assert X("Answer:\n16 eggs minus 7 is 9, times 2 is 18") == "18"
    assert X("**Answer:** 16 ducks' eggs, then 9 * 2 = 18 dollars\nso 5") == "16"


def test_a_computation_after_the_marker_gives_its_result():
    """A computation shown after the marker: the number after the sentence's last '=' (its result).

    It applies when only arithmetic lies between the marker's first number and an '=' of the same
    sentence (ending at '. ', a line break or ';').
    """
    assert X("The answer is 9 * 2 = 18.") == "18"  # was 9
    assert X("The answer is calculated as follows: 16 - 3 - 4 = 9, and 9 * 2 = 18.") == "18"  # was 16
    assert X("The answer is $9 \\times \\$2 = \\$18$.") == "18"
    assert X("\\boxed{2 \\times 9 = 18}") == "18"
    assert X("The answer is 1,000 - 10 = 990 dollars") == "990"
    # negative controls: words between the number and the '=', or an '=' in a later sentence
    assert X("The answer is 18, since 16 - 3 - 4 = 9") == "18"
    assert X("The answer is 18. Check: 9 * 2 = 18 and 16 - 3 - 4 = 9") == "18"
    assert X("The answer is 18; 16 - 3 - 4 = 9") == "18"
    assert X("The answer is 18\n16 - 3 - 4 = 9") == "18"
    assert X("The answer is 9 * 2 = eighteen") == "9"  # no number after the '=': the first number


def test_a_marker_without_a_number_after_it_does_not_count():
    """A last marker with no number after it: the marker before it is used."""
    assert X("The answer is 18.\nFinal answer: eighteen") == "18"
    # negative control: with a number after the last marker, that one is read
    assert X("The answer is 18.\nFinal answer: 19") == "19"


def test_no_marker_gives_the_last_number():
    """Without any marker, the last number of the text."""
    assert X("Ducks lay 16, she eats 3, bakes 4: 9 left, 9*2 = 18 dollars") == "18"
    assert X("5 + 4 = 9 apples and 3 pears") == "3"
    assert X("no number here") is None
    assert X("") is None


# ---------------------------------------------------------------- policy 4: numbers by value

SEPARATORS = [",", "{,}", "\\,", "\u2009", "\u202f", "\u00a0"]


def _spell(n: int, sep: str) -> str:
    """``n`` (>= 0) with ``sep`` between groups of three digits."""
    s = str(n)
    head = len(s) % 3 or 3
    return sep.join([s[:head]] + [s[i : i + 3] for i in range(head, len(s), 3)])


@pytest.mark.parametrize("sep", SEPARATORS)
def test_each_thousands_separator(sep):
    r"""Thousands separators , {,} \, U+2009 U+202F U+00A0 are formatting: 9<sep>500 is 9500."""
    assert X(f"The answer is 9{sep}500.") == "9500"
    assert X(f"She has 1{sep}234{sep}567.89 dollars") == "1234567.89"
    assert _judge("9500", f"The answer is 9{sep}500.") == "correct"
    # negative control: a group that is not exactly three digits joins nothing
    assert X(f"The answer is 9{sep}50.") == "9"
    assert X(f"The answer is 9{sep}5000.") == "9"


def test_separators_property_every_integer_and_decimal():
    """For any integer or decimal n and each separator spelling, formatting(n) extracts n.

    (hypothesis is not a dependency: a seeded sweep of 400 values x 6 spellings x 3 framings.)
    """
    rng = random.Random(15)
    values = [rng.randrange(10 ** rng.randrange(1, 13)) for _ in range(300)]
    values += [10**k for k in range(13)] + [999, 1000, 999_999, 1_000_000]
    for n in values:
        cents = rng.choice([None, rng.randrange(100)])
        neg = rng.random() < 0.3
        expected = Fraction(n) + (Fraction(cents, 100) if cents is not None else 0)
        expected = -expected if neg else expected
        for sep in SEPARATORS:
            spelled = ("-" if neg else "") + _spell(n, sep) + (f".{cents:02d}" if cents is not None else "")
            for text in (spelled, f"The answer is {spelled}.", f"So {spelled} in total"):
                got = X(text)
                assert got is not None and Fraction(got) == expected, (text, got)
                assert got == gsm8k.canonical(expected)


def test_comma_followed_by_space_separates_numbers():
    """'3, 4 and 5' are three numbers (a comma and a space is a list), never 345."""
    assert X("The sides are 3, 4 and 5") == "5"
    assert X("The answer is 3, 4 and 5") == "3"
    assert X("Answer: 1,23") == "1"  # '1,23' is 1 then 23
    assert X("we have 1,23") == "23"
    # negative control: a real group of three is joined
    assert X("The answer is 3,456") == "3456"


def test_fractions_are_exact_values():
    r"""a/b, \frac{a}{b}, \dfrac, \tfrac, \frac12 are fractions; 1/2 is 0.5, not 1."""
    assert X("The answer is 1/2") == "0.5"
    assert _judge("1", "The answer is 1/2") == "wrong"  # was read as 1 and scored right
    assert _judge("0.5", "The answer is 1/2") == "correct"
    assert _judge("0.5", "The answer is 0.50") == "correct"
    assert X("The answer is \\frac{3}{4}") == "0.75"
    assert X("\\boxed{\\dfrac{1}{3}}") == "1/3"
    assert X("\\boxed{\\tfrac{-2}{7}}") == "-2/7"
    assert X("-\\frac{6}{4} m") == "-1.5"
    assert X("so \\frac12 a cup") == "0.5"
    assert X("She uses 3/4 cup") == "0.75"
    # negative controls: spaces around '/' make two numbers; a zero denominator is no number
    assert X("1 / 2") == "2"
    assert X("The answer is 1/0, so 7") == "7"


def test_nothing_is_rounded():
    """Values compare exactly: 0.33 is not 1/3; 0.5 is 1/2; 2.50 is 5/2."""
    assert _judge("1/3", "The answer is 0.33") == "wrong"
    assert _judge("0.33", "The answer is 1/3") == "wrong"
    assert _judge("2.5", "The answer is 5/2") == "correct"
    assert _judge("18", "The answer is 17.999") == "wrong"


def test_signs_are_kept():
    """A '-' or U+2212 directly before the number (or its currency sign) is a sign."""
    assert X("It dropped to \u22127 degrees.") == "-7"
    assert X("The answer is -3") == "-3"
    assert X("He owes -$5.") == "-5"
    assert X("He owes $-5.") == "-5"
    assert _judge("-7", "The answer is \u22127") == "correct"
    assert _judge("7", "The answer is \u22127") == "wrong"
    # negative controls: a spaced minus or one after a digit is an operator
    assert X("He has 16 - 3") == "3"
    assert X("He has 5-3") == "3"


@pytest.mark.parametrize(
    "text", ["$18", "\\$18", "€18", "£18", "18%", "18 km", "18km", "18 dollars", "18th", "(18)", "**18**", "__18__"]
)
def test_currency_percent_units_are_formatting(text):
    """Currency signs before, and %, units and markup after the number are formatting."""
    assert X(f"The answer is {text}.") == "18"
    assert X(f"In total {text}") == "18"


def test_trailing_zeros_and_period_are_formatting():
    """18.00 and 18. are 18; significant decimals are kept (18.50 is 18.5)."""
    assert X("The answer is 18.00") == "18"
    assert X("The answer is 18.") == "18"
    assert X("So 18.00.") == "18"
    assert X("The answer is 18.50") == "18.5"  # negative control: not 18
    assert X("It is 3.5.") == "3.5"


def test_no_number_inside_words():
    """A number does not start inside a word (x2, COVID19), after a digit's '.', or after '/'."""
    assert X("Let x2 be the rest") is None
    assert X("The answer is 3rd") == "3"
    assert X("version 1.2.3") == "1.2"
    assert X("on 12/25/2023") == "12"


def test_an_overlong_digit_run_is_no_number():
    """A number of more than MAX_NUMBER_CHARS characters (degenerate output) is skipped, no crash."""
    assert gsm8k.MAX_NUMBER_CHARS == 1000
    assert X("So 5. " + "1" * 5000) == "5"  # Python would refuse to convert 5000 digits
    assert X("1" * 1001) is None
    assert X("1" * 1000) == "1" * 1000  # negative control: at the limit it is a number


# ---------------------------------------------------------------- canonical form, gold


def test_canonical_is_one_spelling_per_value():
    """extracted is a canonical text of the value: integer, terminating decimal, or a/b."""
    cases = {Fraction(9500): "9500", Fraction(-3): "-3", Fraction(0): "0", Fraction(1, 2): "0.5",
             Fraction(-1, 20): "-0.05", Fraction(4937, 4): "1234.25", Fraction(1, 3): "1/3",
             Fraction(-2, 7): "-2/7", Fraction(7, 6): "7/6"}  # fmt: skip
    for v, s in cases.items():
        assert gsm8k.canonical(v) == s
        assert gsm8k.parse_value(s) == v
    rng = random.Random(3)
    seen: dict[str, Fraction] = {}
    for _ in range(2000):
        v = Fraction(rng.randrange(-10**6, 10**6), rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 25, 40, 1000]))
        s = gsm8k.canonical(v)
        assert gsm8k.parse_value(s) == v and seen.setdefault(s, v) == v  # round trip, injective
        assert gsm8k.normalize_number(s) == s  # canonical text reads back as itself


def test_votes_count_values_not_spellings():
    """Self-consistency and maj@k compare extracted strings: spellings of one value vote together."""
    responses = ["The answer is 9{,}500.", "#### 9,500", "\\boxed{9\\,500}", "9500.00", "The answer is 9,400"]
    answers = [X(r) for r in responses]
    assert answers == ["9500"] * 4 + ["9400"]
    assert vote_shares(["i"] * 5, answers).tolist() == [0.8] * 4 + [0.2]
    assert maj_at_k([answers], ["9500"], 5) == 1.0
    assert [X("1/2"), X("0.5"), X("\\frac{2}{4}")] == ["0.5"] * 3


def test_gold_goes_through_the_same_parser():
    """The gold '#### N' is read by the same number reader (separators, signs, canonical form)."""
    assert gsm8k.gold_answer("blah\n#### 1,234") == "1234"
    assert gsm8k.gold_answer("blah\n#### 9{,}500") == "9500"
    assert gsm8k.gold_answer("x\n#### -$3.50") == "-3.5"
    assert gsm8k.gold_answer("no marker 5") is None
    assert gsm8k.gold_answer("#### 12 apples") is None  # not a single number


@pytest.mark.parametrize(
    "text, expected",
    [("18.00", "18"), ("$1,234.50", "1234.5"), ("-0", "0"), ("0.50", "0.5"), (" 7. ", "7"),
     ("1,000", "1000"), ("50%", "50"), ("1/2", "0.5"), ("\\frac{1}{3}", "1/3"), ("1/0", None),
     ("12 apples", None), ("", None)],
)  # fmt: skip
def test_normalize_number(text, expected):
    """A string holding exactly one number (with formatting) reads to its canonical text, else None."""
    assert gsm8k.normalize_number(text) == expected


def test_gold_solutions_extract_their_own_answer():
    """The policy reads every vendored gold solution right, in three spellings of its ending.

    7473 train + 1319 test worked solutions: as written (ending '#### N'), and with that line
    replaced by 'The answer is N.' and by '\\boxed{N}': 100 % must extract N (by value).
    """
    counts = {}
    for split, n_expected in (("train", 7473), ("test", 1319)):
        lines = (RAW / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == n_expected
        ok = {"####": 0, "The answer is": 0, "\\boxed": 0}
        for line in lines:
            solution = json.loads(line)["answer"]
            body, raw = solution.rsplit("####", 1)
            gold = gsm8k.parse_value(gsm8k.gold_answer(solution))
            for key, text in (("####", solution), ("The answer is", f"{body.rstrip()}\nThe answer is {raw.strip()}."),
                              ("\\boxed", f"{body.rstrip()}\n\\boxed{{{raw.strip()}}}")):  # fmt: skip
                got = X(text)
                ok[key] += got is not None and gsm8k.parse_value(got) == gold
        counts[split] = ok
    print(counts)
    assert counts == {"train": dict.fromkeys(("####", "The answer is", "\\boxed"), 7473),
                      "test": dict.fromkeys(("####", "The answer is", "\\boxed"), 1319)}  # fmt: skip


def test_train_split_is_vendored_but_no_benchmark_input():
    """train.jsonl's sum is recorded, but only the spec's raw files are the normalize inputs."""
    sums = read_sums(RAW.parent / "SHA256SUMS")
    assert "gsm8k/train.jsonl" in sums
    assert files_of(sums, "gsm8k", gsm8k.RAW_FILES) == ["gsm8k/test.jsonl"]
    assert files_of(sums, "gsm8k") == ["gsm8k/test.jsonl", "gsm8k/train.jsonl"]  # control: the folder
    assert set(verify_files(RAW.parent, "gsm8k", RAW.parent / "SHA256SUMS")) == {"gsm8k/test.jsonl"}
    with pytest.raises(DataError, match="gsm8k/dev.jsonl"):
        files_of(sums, "gsm8k", ("dev.jsonl",))


# ---------------------------------------------------------------- loading


def test_load_all_rows(items):
    assert items.height == 1319
    assert items.schema == pl.Schema(tables.BENCHMARK_SCHEMA)
    assert items["item_id"][0] == "gsm8k/test/0000"
    assert items["item_id"][-1] == "gsm8k/test/1318"
    assert items["item_id"].n_unique() == 1319
    assert items.null_count().sum_horizontal().item() == 0
    assert set(items["benchmark"]) == {"gsm8k"}


def test_every_gold_answer_is_canonical(items):
    answers = items["answer"].to_list()
    assert all(re.fullmatch(r"-?(0|[1-9]\d*)(\.\d*[1-9])?", a) for a in answers)
    assert answers[0] == "18"  # Janet's ducks
    assert sum(a.startswith("-") for a in answers) == 2
    payloads = [json.loads(p) for p in items["payload"]]
    with_commas = [(p["raw_answer"], a) for p, a in zip(payloads, answers, strict=True) if "," in p["raw_answer"]]
    assert len(with_commas) == 14
    for raw, a in with_commas:
        assert a == raw.replace(",", "")
    for p, a in zip(payloads, answers, strict=True):
        assert gsm8k.extract_answer(p["solution"]) == a  # the reference solution scores itself


def test_load_bad_line_names_file_and_line(tmp_path):
    (tmp_path / "test.jsonl").write_text(
        json.dumps({"question": "q", "answer": "x\n#### 3"}) + "\n"
        + json.dumps({"question": "q", "answer": "no marker"}) + "\n"
    )  # fmt: skip
    with pytest.raises(DataError, match=r"test\.jsonl:2"):
        gsm8k.load(tmp_path, {})
    with pytest.raises(DataError, match="missing"):
        gsm8k.load(tmp_path / "nope", {})


# ---------------------------------------------------------------- prompt


def test_exemplars_are_the_eight_of_wei_et_al():
    assert len(gsm8k.EXEMPLARS) == 8
    finals = [gsm8k.extract_answer(a) for _, a in gsm8k.EXEMPLARS]
    assert finals == ["6", "5", "39", "8", "9", "29", "33", "8"]
    assert all(a.endswith(f"The answer is {n}.") for (_, a), n in zip(gsm8k.EXEMPLARS, finals, strict=True))


def test_build_prompt_eight_shot(items):
    item = items.row(0, named=True)
    p = gsm8k.build_prompt(item, {})
    assert len(p.messages) == 17
    assert [m["role"] for m in p.messages] == ["user", "assistant"] * 8 + ["user"]
    assert p.messages[0]["content"].startswith("Question: There are 15 trees")
    assert p.messages[-1]["content"] == "Question: " + item["question"]
    assert "Question:" in p.stop
    assert p.assistant_prefix == ""


def test_build_prompt_n_shot(items):
    item = items.row(1, named=True)
    p2 = gsm8k.build_prompt(item, {"n_shot": 2})
    assert len(p2.messages) == 5
    p0 = gsm8k.build_prompt(item, {"n_shot": 0})
    assert len(p0.messages) == 1
    assert p0.messages[0]["content"].startswith("Question: " + item["question"])
    assert "The answer is" in p0.messages[0]["content"]
    for bad in (9, -1, 2.0, True, "8"):
        with pytest.raises(ConfigError, match="n_shot"):
            gsm8k.build_prompt(item, {"n_shot": bad})


# ---------------------------------------------------------------- check


def _gens(item_ids, responses):
    n = len(item_ids)
    return pl.DataFrame(
        {
            "model": ["m"] * n, "benchmark": ["gsm8k"] * n, "config": ["sample"] * n,
            "item_id": item_ids, "sample_idx": list(range(n)), "seed": list(range(n)),
            "prompt": ["p"] * n, "response": responses, "prompt_tokens": [10] * n,
            "response_tokens": [5] * n, "finish_reason": ["stop"] * n,
            "logprobs": [None] * n, "processed_logprobs": [None] * n,
        },
        schema=tables.GENERATION_SCHEMA,
    )  # fmt: skip


def test_check(items):
    ids = ["gsm8k/test/0000"] * 5 + ["gsm8k/test/0001"]
    responses = [
        "9 * 2 = 18. The answer is 18.",
        "The answer is $18.00",
        "9 * 2 = 19. The answer is 19.",
        "I am not sure.",
        "Ducks lay 16, eats 3, bakes 4 -> 9 left, 9*2 = 18",
        "2 / 2 = 1 and 2 + 1 = 3. The answer is 3.\nQuestion: The answer is 4.",
    ]
    out = gsm8k.check(items, _gens(ids, responses), {})
    assert out.schema == pl.Schema(tables.CHECK_SCHEMA)
    assert out["item_id"].to_list() == ids
    assert out["sample_idx"].to_list() == list(range(6))
    assert out["verdict"].to_list() == ["correct", "correct", "wrong", "no_answer", "correct", "correct"]
    assert out["score"].to_list() == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert out["extracted"].to_list() == ["18", "18", "19", None, "18", "3"]
    assert out["gold"].to_list() == ["18"] * 5 + ["3"]
    assert out["detail"].to_list()[:2] == ["answer_phrase", "answer_phrase"]
    assert out["detail"][4] == "last_number"
    assert set(out["model"]) == {"m"} and set(out["config"]) == {"sample"}


def test_check_unknown_item(items):
    with pytest.raises(DataError, match="gsm8k/test/9999"):
        gsm8k.check(items, _gens(["gsm8k/test/0000", "gsm8k/test/9999"], ["1", "2"]), {})
