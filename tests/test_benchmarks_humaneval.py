"""HumanEval: loading, prompt, program assembly (run in subprocesses), check wiring."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import tables
from goodbadgreedy.benchmarks import humaneval
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.prompts import truncate_at_stop

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "humaneval"


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    return humaneval.load(RAW, {})


def _item(items: pl.DataFrame, task_id: str) -> dict:
    return items.filter(pl.col("item_id") == task_id).row(0, named=True)


def _run(program: str, cwd: Path) -> subprocess.CompletedProcess:
    # Never exec in-process: each program runs in its own isolated interpreter.
    return subprocess.run(
        [sys.executable, "-I", "-c", program], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_load(items):
    assert items.height == 164
    assert items.schema == pl.Schema(tables.BENCHMARK_SCHEMA)
    assert items["item_id"].to_list() == [f"HumanEval/{i}" for i in range(164)]
    assert items.null_count().sum_horizontal().item() == 0
    assert set(items["answer"]) == {""}
    assert set(items["choices"].list.len()) == {0}
    first = _item(items, "HumanEval/0")
    assert first["question"].startswith("from typing import List\n\n\ndef has_close_elements(")
    payload = json.loads(first["payload"])
    assert set(payload) == {"test", "entry_point", "canonical_solution"}
    assert payload["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in payload["test"]


def test_load_bad_record_names_line(tmp_path):
    import gzip

    with gzip.open(tmp_path / "HumanEval.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"task_id": "T/0", "prompt": "def f():\n"}) + "\n")
    with pytest.raises(DataError, match=r"HumanEval\.jsonl\.gz:1.*canonical_solution"):
        humaneval.load(tmp_path, {})


def test_build_prompt(items):
    item = _item(items, "HumanEval/0")
    p = humaneval.build_prompt(item, {})
    assert len(p.messages) == 1 and p.messages[0]["role"] == "user"
    assert "```python\n" + item["question"] in p.messages[0]["content"]
    assert p.assistant_prefix == "```python\n" + item["question"]
    assert p.stop == ("\nclass", "\ndef", "\n#", "\nif", "\nprint", "\n```")
    with pytest.raises(ConfigError, match="timeout_s"):
        humaneval.build_prompt(item, {"timeout_s": 0})


def test_build_program_layout(items):
    item = _item(items, "HumanEval/0")
    payload = json.loads(item["payload"])
    program = humaneval.build_program(item, "    return False\n")
    assert program == (
        item["question"] + "    return False\n" + "\n\n" + payload["test"] + "\ncheck(has_close_elements)\n"
    )
    with pytest.raises(DataError, match="HumanEval/x"):
        humaneval.build_program({"item_id": "HumanEval/x", "question": "", "payload": "{}"}, "")


def test_every_canonical_solution_passes_in_a_subprocess(items, tmp_path):
    rows = items.to_dicts()
    programs = [humaneval.build_program(r, json.loads(r["payload"])["canonical_solution"]) for r in rows]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda p: _run(p, tmp_path), programs))
    failed = [(r["item_id"], res.stderr[-300:]) for r, res in zip(rows, results, strict=True) if res.returncode != 0]
    assert failed == []


def test_wrong_solutions_fail_in_a_subprocess(items, tmp_path):
    item = _item(items, "HumanEval/0")
    wrong = _run(humaneval.build_program(item, "    return False\n"), tmp_path)
    assert wrong.returncode != 0 and "AssertionError" in wrong.stderr
    broken = _run(humaneval.build_program(item, "    return (\n"), tmp_path)
    assert broken.returncode != 0 and "SyntaxError" in broken.stderr


# ---------------------------------------------------------------- check


def _gens(item_ids, responses):
    n = len(item_ids)
    return pl.DataFrame(
        {
            "model": ["m"] * n, "benchmark": ["humaneval"] * n, "config": ["sample"] * n,
            "item_id": item_ids, "sample_idx": list(range(n)), "seed": list(range(n)),
            "prompt": ["p"] * n, "response": responses, "prompt_tokens": [10] * n,
            "response_tokens": [5] * n, "finish_reason": ["stop"] * n,
            "logprobs": [None] * n, "processed_logprobs": [None] * n,
        },
        schema=tables.GENERATION_SCHEMA,
    )  # fmt: skip


def _canonical(items, task_id):
    return json.loads(_item(items, task_id)["payload"])["canonical_solution"]


def test_check_wiring_with_a_fake_sandbox(items, monkeypatch):
    """check() cuts at stop sequences, passes options, keeps order; the sandbox is faked."""
    calls = {}

    class Verdict:
        def __init__(self, status, detail):
            self.status, self.detail = status, detail

    def run_programs(programs, *, timeout_s, memory_mb, workers):
        calls.update(programs=programs, timeout_s=timeout_s, memory_mb=memory_mb, workers=workers)
        return [Verdict("passed" if "return True" in p.program else "failed", f"#{i}") for i, p in enumerate(programs)]

    fake = types.ModuleType("goodbadgreedy.execution")
    fake.run_programs = run_programs
    monkeypatch.setitem(sys.modules, "goodbadgreedy.execution", fake)

    responses = ["    return True\n```\nSome explanation.", "    return 1\n\ndef other():\n    pass"]
    out = humaneval.check(items, _gens(["HumanEval/0", "HumanEval/2"], responses), {"workers": 3})
    assert calls["timeout_s"] == 10.0 and calls["memory_mb"] == 1024 and calls["workers"] == 3
    assert calls["programs"][0] == humaneval.build_function_test(_item(items, "HumanEval/0"), "    return True")
    assert "def other" not in calls["programs"][1].program
    assert out.schema == pl.Schema(tables.CHECK_SCHEMA)
    assert out["item_id"].to_list() == ["HumanEval/0", "HumanEval/2"]
    assert out["verdict"].to_list() == ["passed", "failed"]
    assert out["score"].to_list() == [1.0, 0.0]
    assert out["extracted"].to_list() == ["    return True", "    return 1\n"]
    assert out["gold"].to_list() == ["", ""]
    assert out["detail"].to_list() == ["#0", "#1"]

    fake.run_programs = lambda programs, **kw: [Verdict("weird", "")] * len(programs)
    with pytest.raises(DataError, match="weird"):
        humaneval.check(items, _gens(["HumanEval/0"], ["x"]), {})


def test_check_unknown_item_and_empty(items):
    with pytest.raises(DataError, match="HumanEval/999"):
        humaneval.check(items, _gens(["HumanEval/999"], ["    pass"]), {})
    empty = humaneval.check(items, _gens([], []), {})
    assert empty.height == 0 and empty.schema == pl.Schema(tables.CHECK_SCHEMA)


def test_check_with_the_real_sandbox(items):
    ids = ["HumanEval/0", "HumanEval/0", "HumanEval/2"]
    responses = [
        _canonical(items, "HumanEval/0") + "\n```\nThis loops over all pairs.",
        "    return False\n",
        _canonical(items, "HumanEval/2"),
    ]
    out = humaneval.check(items, _gens(ids, responses), {"timeout_s": 20, "workers": 2})
    assert out["item_id"].to_list() == ids
    assert out["verdict"].to_list()[0] == "passed"
    assert out["verdict"].to_list()[1] != "passed"
    assert out["verdict"].to_list()[2] == "passed"
    assert out["score"].to_list() == [1.0, 0.0, 1.0]
    assert set(out["verdict"]) <= set(humaneval.VERDICTS)
    assert truncate_at_stop(responses[0], humaneval.STOP) == out["extracted"][0]
