"""MMLU-Redux: robust CSV loading, error-type normalization, wrong_groundtruth modes, letters."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.benchmarks import mmlu_redux as mr
from goodbadgreedy.errors import ConfigError, DataError

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "mmlu_redux"


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    return mr.load(RAW, {})


def _row(items: pl.DataFrame, item_id: str) -> dict:
    rows = items.filter(pl.col("item_id") == item_id).to_dicts()
    assert len(rows) == 1, item_id
    row = rows[0]
    row["payload"] = json.loads(row["payload"])
    return row


# ---------------------------------------------------------------- loading the real files


def test_load_all_files(items):
    assert items.height == 5700
    assert items.schema == pl.Schema(tables.BENCHMARK_SCHEMA)
    assert items["item_id"].n_unique() == 5700
    assert items.null_count().sum_horizontal().item() == 0
    per_subject = items.group_by("category").len()
    assert per_subject.height == 57
    assert set(per_subject["len"]) == {100}
    assert set(items["category"]) == set(mr.SUBJECTS)
    assert items["item_id"][0] == "mmlu_redux/abstract_algebra/000"
    assert items["item_id"][-1] == "mmlu_redux/world_religions/099"
    assert items.filter(pl.col("question").str.strip_chars() == "").height == 0
    assert set(items["answer"]) == {"A", "B", "C", "D"}
    assert set(items["choices"].list.len()) == {4}
    # no control characters or stray carriage returns / BOMs survive
    assert items.filter(pl.col("question").str.contains(r"[\r\x85\ufeff]")).height == 0


def test_error_types_are_normalized(items):
    counts = dict(
        items.select(pl.col("payload").str.json_path_match("$.error_type").alias("e"))
        .group_by("e")
        .len()
        .iter_rows()
    )
    assert set(counts) <= set(mr.ERROR_TYPES)
    assert counts == {
        "ok": 5330,
        "wrong_groundtruth": 107,
        "bad_question_clarity": 132,
        "multiple_correct_answers": 39,
        "no_correct_answer": 35,
        "expert": 32,
        "bad_options_clarity": 25,
    }


def test_non_utf8_file_is_decoded_and_reported(caplog):
    with caplog.at_level(logging.WARNING, logger="goodbadgreedy.benchmarks.mmlu_redux"):
        items = mr.load(RAW, {"wrong_groundtruth": "original"})
    assert any(
        "mmlu_moral_scenarios.csv" in r.getMessage() and "mac_roman" in r.getMessage()
        for r in caplog.records
    )
    encodings = items.select(
        pl.col("category"), pl.col("payload").str.json_path_match("$.encoding").alias("enc")
    ).unique()
    assert set(encodings.filter(pl.col("category") == "moral_scenarios")["enc"]) == {"mac_roman"}
    assert set(encodings.filter(pl.col("category") != "moral_scenarios")["enc"]) == {"utf-8"}
    slapped = [q for q in items["question"] if "I slapped my sister" in q]
    assert len(slapped) == 1 and "I slapped my sister\u2019s head." in slapped[0]


def test_mixed_delimiters_and_column_orders_load_the_same_fields(items):
    # anatomy uses ';', machine_learning and moral_disputes reorder columns, econometrics has
    # two unnamed trailing columns
    anatomy = _row(items, "mmlu_redux/anatomy/000")
    assert anatomy["payload"]["file"] == "mmlu_anatomy.csv"
    assert len(anatomy["choices"]) == 4 and not anatomy["question"].startswith("[")
    ml = _row(items, "mmlu_redux/machine_learning/000")
    assert ml["payload"]["error_type"] == "wrong_groundtruth"
    assert (ml["payload"]["original_answer"], ml["answer"]) == ("D", "B")


def test_wrong_groundtruth_corrected_index_letter_and_empty(items):
    # correct_answer "2" (an index) over original answer 3
    r = _row(items, "mmlu_redux/abstract_algebra/001")
    assert r["payload"]["error_type"] == "wrong_groundtruth"
    assert (r["payload"]["original_answer"], r["payload"]["corrected_answer"], r["answer"]) == ("D", "C", "C")
    assert r["payload"]["answer_source"] == "corrected"
    # correct_answer "C" (a letter) over original answer 1
    r = _row(items, "mmlu_redux/college_chemistry/077")
    assert (r["payload"]["original_answer"], r["answer"]) == ("B", "C")
    # correct_answer "D" over original 2 (virology uses letters too)
    r = _row(items, "mmlu_redux/virology/099")
    assert (r["payload"]["original_answer"], r["answer"]) == ("C", "D")
    # empty correct_answer: the original answer stays
    r = _row(items, "mmlu_redux/abstract_algebra/087")
    assert r["payload"]["corrected_answer"] is None
    assert r["answer"] == r["payload"]["original_answer"] == "C"
    assert r["payload"]["answer_source"] == "original"
    # rows that are not wrong_groundtruth never use correct_answer
    ok = items.filter(pl.col("payload").str.json_path_match("$.error_type") != "wrong_groundtruth")
    assert (
        ok.select(pl.col("payload").str.json_path_match("$.original_answer") == pl.col("answer"))
        .to_series()
        .all()
    )
    sources = items["payload"].str.json_path_match("$.answer_source").value_counts()
    assert dict(sources.iter_rows()) == {"original": 5598, "corrected": 102}


def test_wrong_groundtruth_original_and_drop():
    original = mr.load(RAW, {"wrong_groundtruth": "original"})
    assert original.height == 5700
    assert (
        original.select(pl.col("payload").str.json_path_match("$.original_answer") == pl.col("answer"))
        .to_series()
        .all()
    )
    assert _row(original, "mmlu_redux/abstract_algebra/001")["answer"] == "D"
    dropped = mr.load(RAW, {"wrong_groundtruth": "drop"})
    assert dropped.height == 5700 - 107
    ids = set(dropped["item_id"])
    assert "mmlu_redux/abstract_algebra/001" not in ids
    assert "mmlu_redux/abstract_algebra/002" in ids  # other ids unchanged
    with pytest.raises(ConfigError, match="wrong_groundtruth"):
        mr.load(RAW, {"wrong_groundtruth": "fix"})


def test_unknown_label_names_file_and_row(tmp_path):
    raw = tmp_path / "mmlu_redux"
    shutil.copytree(RAW, raw)
    path = raw / "mmlu_anatomy.csv"
    text = path.read_text(encoding="utf-8")
    header, body = mr.read_table(text, where="x")
    body[3][header.index("error_type")] = "Typo"
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows([header, *body])
    path.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(DataError, match=r"mmlu_anatomy\.csv data row 3.*'Typo'"):
        mr.load(raw, {})
    path.unlink()
    with pytest.raises(DataError, match="mmlu_anatomy.csv"):
        mr.load(raw, {})


# ---------------------------------------------------------------- the pieces


@pytest.mark.parametrize(
    "label, expected",
    [
        ("OK", "ok"), ("Ok", "ok"), ("ok", "ok"), ("OK ", "ok"),
        ("Wrong groundtruth", "wrong_groundtruth"), ("Wrong Groundtruth", "wrong_groundtruth"),
        ("wrong_groundtruth ", "wrong_groundtruth"), ("no correct Answer", "no_correct_answer"),
        ("Multiple Correct Answers", "multiple_correct_answers"),
        ("bad_question_clarity", "bad_question_clarity"), ("Bad Options Clarity", "bad_options_clarity"),
        ("Expert", "expert"), ("", "unlabelled"), ("  ", "unlabelled"),
    ],
)  # fmt: skip
def test_normalize_error_type(label, expected):
    assert mr.normalize_error_type(label) == expected


def test_normalize_error_type_unknown():
    with pytest.raises(DataError, match=r"f\.csv data row 7.*'Typo'"):
        mr.normalize_error_type("Typo", where="f.csv data row 7")


def test_decode_bytes():
    assert mr.decode_bytes("caf\u00e9".encode(), where="f") == ("caf\u00e9", "utf-8")
    assert mr.decode_bytes(b"\xef\xbb\xbfq,a", where="f") == ("q,a", "utf-8")
    # Mac Roman curly apostrophe (the moral_scenarios quirk); cp1252 would give "sister\xd5s"
    assert mr.decode_bytes(b"my sister\xd5s head", where="f") == ("my sister\u2019s head", "mac_roman")
    # cp1252 curly quote and e-acute
    assert mr.decode_bytes(b"sister\x92s caf\xe9", where="f") == ("sister\u2019s caf\u00e9", "cp1252")


def test_read_table_sniffs_delimiter_and_maps_columns():
    text = (
        "Answer;Question;error_type;choices;correct_answer;;\r\n"
        "1;\"What; really?\";OK;\"['x', 'y']\";;;\r\n"
    )
    header, body = mr.read_table(text, where="f")
    assert header == ["answer", "question", "error_type", "choices", "correct_answer", "", ""]
    assert body == [["1", "What; really?", "OK", "['x', 'y']", "", "", ""]]
    with pytest.raises(DataError, match=r"f: data row 0 has a value in an unnamed column"):
        mr.read_table(text.replace(";;;\r\n", ";;oops;\r\n"), where="f")
    with pytest.raises(DataError, match="delimiter"):
        mr.read_table("question\tchoices\n", where="f")
    with pytest.raises(DataError, match="data row 0 has 2 cells"):
        mr.read_table("question,choices,answer,error_type,correct_answer\nq,c\n", where="f")


def test_parse_choices_and_correct_answer():
    assert mr.parse_choices("['a', \"b's\", 3]") == ["a", "b's", "3"]
    with pytest.raises(DataError, match="row 2"):
        mr.parse_choices("[a, b]", where="row 2")
    with pytest.raises(DataError):
        mr.parse_choices("['only one']")
    choices = ["Paris", "London", "Berlin", "Madrid"]
    assert mr.parse_correct_answer("2", choices) == "C"
    assert mr.parse_correct_answer(" 0 ", choices) == "A"
    assert mr.parse_correct_answer("D", choices) == "D"
    assert mr.parse_correct_answer("Berlin", choices) == "C"
    assert mr.parse_correct_answer("", choices) is None
    for bad in ("4", "E", "depends on interpretation"):
        with pytest.raises(DataError, match=r"f row 1"):
            mr.parse_correct_answer(bad, choices, where="f row 1")


# ---------------------------------------------------------------- prompt


def test_build_prompt(items):
    item = items.row(0, named=True)
    p = mr.build_prompt(item, {})
    assert len(p.messages) == 1 and p.messages[0]["role"] == "user"
    content = p.messages[0]["content"]
    assert content.startswith("The following is a multiple choice question about abstract algebra.")
    assert item["question"] in content
    for letter, choice in zip("ABCD", item["choices"], strict=False):
        assert f"\n{letter}. {choice}\n" in content + "\n"
    assert content.endswith("Answer with the letter of the correct option (A, B, C or D).")
    assert p.stop == () and p.assistant_prefix == ""


# ---------------------------------------------------------------- letter extraction

CHOICES = ["Paris", "London", "Berlin", "Madrid"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("B)", "B"),
        ("[C]", "C"),
        ("Answer: B", "B"),
        ("The answer is (B)", "B"),
        ("The answer is (B).", "B"),
        ("the correct answer is B: London", "B"),
        ("**B**", "B"),
        ("**Answer:** C", "C"),
        ("Option B", "B"),
        ("The answer is option D.", "D"),
        ("answer: b", "B"),
        ("answer is b.", "B"),
        ("My final answer: (d)", "D"),
        ("The correct option is D.", "D"),
        ("After weighing them, the best choice is C because it fits.", "C"),
        ("The answer is \\boxed{D}", "D"),
        ("B. London", "B"),
        ("c) Berlin", "C"),
        ("C\n\nExplanation: the capital of Germany.", "C"),
        ("Answer:\nC", "C"),
        ("A", "A"),
        ("A.", "A"),
        ("A is correct.", "A"),
        ("A good answer is C", "C"),  # the article "A" is not an answer
        ("A great deal of evidence points to D.", "D"),
        ("I think the answer is a tricky one. C", "C"),  # "a tricky" is no answer
        ("The capital is Berlin, so the answer is C.", "C"),
        ("London", "B"),  # the full text of exactly one option
        ("The answer is Paris.", "A"),
        ('"madrid"', "D"),
    ],
)
def test_extract_letter(text, expected):
    assert mr.extract_letter(text, 4, CHOICES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I don't know.",
        "",
        "A or B",  # two letters
        "Option A is good, option C is fine",  # two decorated letters
        "The answer is E",  # out of range
        "A dog is an animal.",  # only the article
        "The answer is not clear.",
        "the answer is a tricky one",  # lowercase article after an answer phrase
    ],
)
def test_extract_letter_none(text):
    assert mr.extract_letter(text, 4, CHOICES) is None


def test_extract_letter_respects_n_choices_and_needs_choices_for_text():
    assert mr.extract_letter("The answer is E", n_choices=5) == "E"
    assert mr.extract_letter("D", n_choices=3) is None
    assert mr.extract_letter("London") is None  # no choices given: no text matching


# ---------------------------------------------------------------- the answer policy, clause by clause
# (module docstring of goodbadgreedy.benchmarks.mmlu_redux; each test states its clause and holds
# a negative control: a near miss the clause must treat differently)


def _x(text, n=4, choices=CHOICES):
    return mr.extract_letter(text, n, choices)


def test_last_statement_wins():
    """With several explicit answer statements, the last one is the model's answer."""
    assert _x("Answer: B ... no. Answer: C") == "C"
    assert _x("The answer is (A). On reflection, the correct option is D.") == "D"
    assert _x("C. Paris\nWait, the answer is B") == "B"  # a later statement beats the opening letter
    assert _x("B\nActually the answer is C.") == "C"
    assert _x("Let me think. A is wrong, B is wrong.\n\n**C**") == "C"  # a letter-only line
    # negative control: letters outside statements do not override the (single) statement
    assert _x("Option A is wrong. The answer is C. Option D is close.") == "C"


@pytest.mark.parametrize(
    "text",
    ["Answer: C", "ANSWER: C", "answer: c", "The answer is C", "The answer is (C).", "answer is C",
     "The correct answer is C: Berlin", "The correct option is C", "the best choice is C because",
     "The final answer is [C]", "Final answer: (c)", "**Answer:** C", "The answer is: **C**",
     "The answer is $\\boxed{C}$", "My answer would be C.", "answer (C)", "The answer is option C",
     "The answer is letter C", "(C)", "C", "C.", "**C**"],
)  # fmt: skip
def test_accepted_statement_forms(text):
    """Each documented statement form gives its letter, even after a conflicting earlier letter."""
    assert _x(text) == "C"
    assert _x("Answer: A\n" + text) == "C"  # it is a statement: being last, it wins over A


def test_a_phrase_without_verb_colon_or_bracket_is_no_statement():
    """'Answer A is wrong' names a letter but states no answer (no is/:/= and no bracket)."""
    assert _x("Answer A is likely, so C") is None  # no statement; letters A and C: ambiguous
    assert _x("Answer: A is likely, so C") == "A"  # negative control: with ':' it is a statement


def test_a_letter_counts_only_when_it_stands_alone():
    """Not the article 'A' of 'A cell', not the pronoun 'I' of 'I think', not the B of 'Bob'."""
    assert _x("A cell is the unit of life, so the answer is C") == "C"
    assert _x("A cell divides.") is None
    assert _x("Bob's answer is wrong.") is None
    assert mr.extract_letter("I think the answer is (B)", 10) == "B"
    assert mr.extract_letter("I think so.", 10) is None
    assert _x("I think it is Berlin") == "C"  # no letter: the option text decides
    # negative controls: the same letters standing alone do count
    assert _x("A is correct") == "A"
    assert mr.extract_letter("I is correct", 10) == "I"
    assert _x("B's text is right") is None and _x("(B)'s text") == "B"


@pytest.mark.parametrize(
    "text", ["C", "(C)", "C.", "C) Berlin", "C: Berlin", "c) Berlin", "C\nBecause it is the capital."]
)
def test_a_reply_that_is_or_starts_with_a_letter(text):
    """A reply that is, or opens with, just a letter (then ')', '.', ':', a line break) chooses it."""
    assert _x(text) == "C"


def test_an_opening_word_is_no_letter():
    """Negative controls of the opening-letter rule: a word or an out-of-range 'E.' is no choice."""
    assert _x("Cats are mammals.") is None
    assert _x("E. coli is a bacterium") is None
    assert _x("E. coli is a bacterium, so option C") == "C"


def test_a_listing_of_the_options_is_no_choice():
    """Lines starting with consecutive letters (A. .. B. .. C. ..) list the options: no statement.

    (Seen in real replies of the packaged model: it echoes the options, cut by max_new_tokens.)
    """
    assert _x("A. Paris\nB. London\nC. Berlin\nD. ") is None
    assert _x("A. Paris is the capital of France\nB.") is None
    assert _x("A. Paris\nB. London\nC. Berlin\nD. Madrid\n\nAnswer: C") == "C"  # a statement after it
    # negative controls: a single opening letter, or a final line repeating one listed letter
    assert _x("A. Paris is the capital of France") == "A"
    assert _x("A) wrong\nB) wrong\nC) right, Berlin.\n\nC") == "C"
    assert _x("B. London\n\nA. Paris is wrong") == "B"  # B then A: no consecutive run


def test_option_text_rule():
    """A reply with no letter that names exactly one option's text chooses that option."""
    assert _x("The capital is Berlin.") == "C"
    assert _x('"madrid"') == "D"
    assert _x("Paris and London are wrong; the answer is Berlin") == "C"  # the text after the phrase
    assert _x("Paris, Texas", 4, ["Paris", "Paris, Texas", "Rome", "Oslo"]) == "B"  # the longer option
    # negative controls: two options named, a letter present, no choices given
    assert _x("Paris or London") is None
    assert _x("It is Paris, not London") is None
    assert _x("Berlin (B)") == "B"  # a letter: the letter rules decide, not the text
    assert _x("The capital is Berlin.", 4, None) is None


@pytest.mark.parametrize(
    "text",
    ["The answer is A or B", "The answer is either A or C", "The answer is between B and D", "Answer: B/C",
     "Answer: B, C", "The answer is B and C", "A or B", "either A or C", "between B and D"],
)  # fmt: skip
def test_hedges_give_no_answer(text):
    """A hedged reply (two letters offered) gives no answer: extracted None, verdict no_answer."""
    assert _x(text) is None
    j = mr.judge({"choices": CHOICES, "answer": "B"}, text)
    assert (j.extracted, j.verdict, j.score) == (None, "no_answer", 0.0)


def test_a_hedge_outside_the_statement_is_no_hedge():
    """Negative controls: a hedge before the final statement, or 'B and not A', still answer."""
    assert _x("Either A or C could seem right, but the answer is C.") == "C"
    assert _x("The answer is B and not A") == "B"
    assert _x("Answer: B, because C is wrong") == "B"


def test_letters_out_of_range_give_no_answer():
    """A letter beyond the options (E of four) gives no answer, also as the last statement."""
    assert _x("The answer is E") is None
    assert _x("E") is None
    assert _x("Answer: (F)") is None
    assert _x("The answer is C.\nAnswer: E") is None  # the final statement is invalid
    assert mr.judge({"choices": CHOICES, "answer": "C"}, "The answer is E").verdict == "no_answer"
    assert mr.extract_letter("The answer is E", 5) == "E"  # negative control: five options


@pytest.mark.parametrize(
    "text",
    ["I'm sorry, but I can't help with that.", "I don't know.", "None of the above.",
     "I cannot determine the answer without more context.", "As an AI, I cannot choose between A and B.", ""],
)  # fmt: skip
def test_refusals_give_no_answer(text):
    """Refusals and empty replies give no answer (scored 0, verdict no_answer)."""
    j = mr.judge({"choices": CHOICES, "answer": "A"}, text)
    assert (j.extracted, j.verdict, j.score) == (None, "no_answer", 0.0)


# ---------------------------------------------------------------- check


def _gens(item_ids, responses):
    n = len(item_ids)
    return pl.DataFrame(
        {
            "model": ["m"] * n, "benchmark": ["mmlu_redux"] * n, "config": ["greedy"] * n,
            "item_id": item_ids, "sample_idx": [0] * n, "seed": [None] * n,
            "prompt": ["p"] * n, "response": responses, "prompt_tokens": [10] * n,
            "response_tokens": [5] * n, "finish_reason": ["eos"] * n,
            "logprobs": [None] * n, "processed_logprobs": [None] * n,
        },
        schema=tables.GENERATION_SCHEMA,
    )  # fmt: skip


def test_check(items):
    ids = ["mmlu_redux/abstract_algebra/001", "mmlu_redux/abstract_algebra/001",
           "mmlu_redux/abstract_algebra/000", "mmlu_redux/abstract_algebra/000"]  # fmt: skip
    responses = ["The answer is (C).", "D", "I have no idea.", "True, True"]
    out = mr.check(items, _gens(ids, responses), {})
    assert out.schema == pl.Schema(tables.CHECK_SCHEMA)
    assert out["item_id"].to_list() == ids
    assert out["gold"].to_list() == ["C", "C", "A", "A"]  # 001 uses the corrected answer
    assert out["extracted"].to_list() == ["C", "D", None, "A"]
    assert out["verdict"].to_list() == ["correct", "wrong", "no_answer", "correct"]
    assert out["score"].to_list() == [1.0, 0.0, 0.0, 1.0]
    assert out["detail"].to_list()[3] == "option_text"


def test_check_unknown_item(items):
    with pytest.raises(DataError, match="mmlu_redux/astrology/000"):
        mr.check(items, _gens(["mmlu_redux/astrology/000"], ["A"]), {})


# ---------------------------------------------------------------- refinements (fresh-user check)


def test_a_negated_or_eliminated_letter_is_no_choice():
    """A letter negated or eliminated in its clause ('not A', 'A is wrong', 'eliminate A') is no choice."""
    negated = ("A is wrong.", "Definitely not A.", "Option A is incorrect.",
               "Eliminate A; the others need more thought.", "A and B are false.", "Rule out A, B and D.")  # fmt: skip
    for text in negated:
        assert _x(text) is None, text  # was read as A
    assert _x("A is wrong, so C") == "C"
    assert _x("Eliminate A and B; D is wrong too, so (C)") == "C"
    assert _x("The answer: A is wrong, so C") == "C"  # a negated letter is no statement either
    assert _x("Answer: B, C is wrong") == "B"  # a negated second letter is no hedge
    # negative controls: the same letters without negation are read
    assert _x("A is right.") == "A"
    assert _x("Definitely A.") == "A"
    assert _x("Option A is interesting.") == "A"
    assert _x("Answer: B, C") is None  # still a hedge


def test_an_affirmed_letter_or_a_correction_is_a_statement():
    """'X is right/correct/the answer' and 'it's X' after a correction word are statements (last wins)."""
    assert _x("The answer is D. Hmm, actually C is right.") == "C"  # was D
    assert _x("Answer: D\n\nWait, correction: it's C.") == "C"  # was D
    assert _x("Answer: D. No, it is C.") == "C"
    assert _x("The answer is A. Option C is the correct answer.") == "C"
    assert _x("Answer: A\nC is the best choice.") == "C"
    # negative controls: no correction word before "it's"; an affirmation followed by a later statement
    assert _x("Answer: D. I mean it's a tricky one.") == "D"
    assert _x("Answer: D. Then it's C.") == "D"
    assert _x("C is right? No. The answer is D.") == "D"
    assert _x("Answer: D. C is interesting.") == "D"


@pytest.mark.parametrize("quoted", ["'C'", "‘C’", '"C"', "“C”"])
def test_a_quoted_letter_is_read_like_the_letter(quoted):
    """Single or double quotes (straight or curly) around a letter are dropped: 'C' is C."""
    assert _x(f"The answer is {quoted}.") == "C"
    assert _x(f"Answer: A\nThe answer is {quoted}.") == "C"  # a statement: the last one wins
    # negative control: a quoted word is no letter
    assert _x(f"Answer: A\nThe answer is {quoted.replace('C', 'Cat')}.") == "A"


def test_a_statement_naming_one_options_whole_text_chooses_it():
    """An answer phrase followed by exactly one option's whole text chooses it, before letters are read."""
    choices = ["Impacts", "Erosion", "Volcanism", "A B and C"]  # astronomy/092
    assert _x("The answer is A B and C.", 4, choices) == "D"  # was A
    assert _x("The answer is: a, b and c", 4, choices) == "D"  # case, spaces, punctuation ignored
    assert _x("Answer: C\nThe answer is Erosion.", 4, choices) == "B"  # last statement wins
    # negative controls: the text is not exactly one option's, so the letter rules decide
    assert _x("The answer is A B and C and more.", 4, choices) == "A"
    assert _x("The answer is A.", 4, choices) == "A"
    assert _x("The answer is A B and C.", 4, None) == "A"  # no choices given
    # a single letter stays a letter even where an option's text is that letter (college_physics/034)
    assert _x("The answer is C.", 4, ["2c", "c", "0.8c", "0.5c"]) == "C"
    assert _x("The answer is (C)", 4, ["L", "R", "1/C", "C"]) == "C"


def test_only_letter_hedges_count():
    """A hedging word without a second letter leaves the letter ('Probably C' is C)."""
    assert _x("Probably C") == "C"
    assert _x("I think the answer is probably C.") == "C"
    assert _x("Probably C or D") is None  # negative control: a second letter is a hedge
