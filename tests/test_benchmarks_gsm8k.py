"""GSM8K: loading, answer normalization and extraction, prompt, check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.benchmarks import gsm8k
from goodbadgreedy.errors import ConfigError, DataError

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "gsm8k"


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    return gsm8k.load(RAW, {})


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$1,234.50", "1234.5"),
        ("-3", "-3"),
        ("The answer is 18.", "18"),
        ("the answer is 18", "18"),
        ("18.00", "18"),
        ("She pays $1,234.50 in total.", "1234.5"),
        ("The answer is $1,234.50.", "1234.5"),
        ("It dropped to -3 degrees.", "-3"),
        ("It dropped to \u22127 degrees.", "-7"),
        ("He owes -$5.", "-5"),
        ("5 + 4 = 9 apples and 3 pears", "3"),  # last number
        ("So 5 * 4 = 20. The answer is 29. Next, 7 more.", "29"),  # the answer phrase wins
        ("The answer is 18. Question: ... The answer is 7.", "18"),  # the first phrase
        ("Step 1: 2 + 2 = 4.\n#### 1,000", "1000"),
        ("The final answer is: **42**", "42"),
        ("Answer: 0.50", "0.5"),
        ("\\boxed{12}", "12"),
        ("A total of 1,234,567 people!", "1234567"),
        ("He has 3.5.", "3.5"),
        ("The answer is eighteen, so 18 eggs... no, 19?", "19"),  # phrase without number
        ("no number here", None),
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert gsm8k.extract_answer(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("18.00", "18"), ("$1,234.50", "1234.5"), ("-0", "0"), ("0.50", "0.5"), (" 7. ", "7"),
     ("1,000", "1000"), ("12 apples", None), ("", None)],
)  # fmt: skip
def test_normalize_number(text, expected):
    assert gsm8k.normalize_number(text) == expected


def test_gold_answer():
    assert gsm8k.gold_answer("blah\n#### 1,234") == "1234"
    assert gsm8k.gold_answer("no marker 5") is None


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
