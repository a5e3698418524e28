"""Registry and shared helpers of goodbadgreedy.benchmarks."""

from __future__ import annotations

import inspect

import polars as pl
import pytest

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.benchmarks import base
from goodbadgreedy.check_table import Judgement, check_frame
from goodbadgreedy.errors import ConfigError, DataError
from goodbadgreedy.prompts import Prompt, truncate_at_stop


def test_names_and_get():
    assert benchmarks.names() == ["alpaca_eval", "arena_hard", "gsm8k", "humaneval", "mixeval", "mmlu_redux"]
    for name in benchmarks.names():
        module = benchmarks.get(name)
        assert module.NAME == name
        assert module.__name__ == f"goodbadgreedy.benchmarks.{name}"


def test_registry_data_agrees_with_the_modules():
    """NAMES and JUDGE_BENCHMARKS are plain data (no module import at Snakefile parse): every
    module of the package is registered, and exactly the judge-graded ones take a `judge` arg."""
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(benchmarks.__path__)} - {"base", "spec", "specs"}
    assert sorted(modules) == benchmarks.names() == sorted(benchmarks.NAMES)
    for name in benchmarks.names():
        check_args = list(inspect.signature(benchmarks.get(name).check).parameters)
        assert ("judge" in check_args) == (name in benchmarks.JUDGE_BENCHMARKS) == benchmarks.uses_judge(name)


def test_registry_import_does_not_load_the_modules():
    """The Snakefile imports the registry and reads every spec at every start: the spec modules
    load, the benchmark modules (and polars, numpy) stay unloaded."""
    import subprocess
    import sys

    code = ("import sys, goodbadgreedy.benchmarks as b; b.names(); b.uses_judge('gsm8k'); "
            "[(s.options_schema(), s.default_options(), s.answers_extracted({})) for s in b.specs()]; "
            "import goodbadgreedy.params_file as p; p.load_schema(); "
            "print(sorted(m for m in sys.modules if (m.startswith('goodbadgreedy.benchmarks.') "
            "and not m.startswith(('goodbadgreedy.benchmarks.spec', 'goodbadgreedy.benchmarks.specs'))) "
            "or m.split('.')[0] in ('polars', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_get_unknown_names_it_and_the_known_ones():
    with pytest.raises(ConfigError) as info:
        benchmarks.get("mmlu_pro")
    msg = str(info.value)
    assert "'mmlu_pro'" in msg
    for name in ("gsm8k", "humaneval", "mmlu_redux"):
        assert name in msg


@pytest.mark.parametrize("name", ["gsm8k", "humaneval", "mmlu_redux", "mixeval", "alpaca_eval", "arena_hard"])
def test_modules_expose_the_same_interface(name):
    module = benchmarks.get(name)
    assert isinstance(module.RAW_FILES, tuple) and module.RAW_FILES
    assert all(isinstance(f, str) and "/" not in f for f in module.RAW_FILES)
    assert isinstance(module.DEFAULT_OPTIONS, dict)
    assert list(inspect.signature(module.load).parameters) == ["raw_dir", "options"]
    assert list(inspect.signature(module.build_prompt).parameters) == ["item", "options"]
    judged = ["judge"] if benchmarks.uses_judge(name) else []  # judge-based: params.yaml's `judge`
    assert list(inspect.signature(module.check).parameters) == ["items", "generations", "options", *judged]
    # unknown options are refused by name
    with pytest.raises(ConfigError, match="no_such_option"):
        module.build_prompt({"question": "q", "choices": ["a", "b"]}, {"no_such_option": 1})


def test_prompt_validates_and_freezes():
    p = Prompt(messages=[{"role": "user", "content": "hi"}], stop=["\n"])
    assert p.messages == ({"role": "user", "content": "hi"},)
    assert p.stop == ("\n",)
    assert p.to_dict() == {
        "messages": [{"role": "user", "content": "hi"}],
        "assistant_prefix": "",
        "stop": ["\n"],
    }
    with pytest.raises(AttributeError):
        p.stop = ()  # type: ignore[misc]
    with pytest.raises(DataError, match="role"):
        Prompt(messages=({"role": "robot", "content": "x"},))
    with pytest.raises(DataError, match="message 0"):
        Prompt(messages=({"role": "user"},))
    with pytest.raises(DataError):
        Prompt(messages=())
    with pytest.raises(DataError):
        Prompt(messages=({"role": "user", "content": "x"},), stop=("",))


def test_merge_options():
    assert base.merge_options("b", {"x": 1, "y": 2}, {"y": 3}) == {"x": 1, "y": 3}
    assert base.merge_options("b", {"x": 1}, None) == {"x": 1}
    with pytest.raises(ConfigError, match=r"'b'.*\['z'\]"):
        base.merge_options("b", {"x": 1}, {"z": 0})


def test_truncate_at_stop_cuts_at_earliest_and_is_idempotent():
    text = "a\nb\ndef f():\n#c"
    cut = truncate_at_stop(text, ("\n#", "\ndef"))
    assert cut == "a\nb"
    assert truncate_at_stop(cut, ("\n#", "\ndef")) == cut
    assert truncate_at_stop("abc", ()) == "abc"


def _items():
    return pl.DataFrame(
        {
            "item_id": ["x/0", "x/1"],
            "benchmark": ["x", "x"],
            "category": ["c", "c"],
            "question": ["q0", "q1"],
            "choices": [[], []],
            "answer": ["1", "2"],
            "payload": ["{}", "{}"],
        },
        schema=tables.BENCHMARK_SCHEMA,
    )


def _gens(item_ids, responses):
    n = len(item_ids)
    return pl.DataFrame(
        {
            "model": ["m"] * n,
            "benchmark": ["x"] * n,
            "config": ["greedy"] * n,
            "item_id": item_ids,
            "sample_idx": list(range(n)),
            "seed": [None] * n,
            "prompt": ["p"] * n,
            "response": responses,
            "prompt_tokens": [1] * n,
            "response_tokens": [1] * n,
            "finish_reason": ["eos"] * n,
            "logprobs": [None] * n, "processed_logprobs": [None] * n,
        },
        schema=tables.GENERATION_SCHEMA,
    )


def test_check_each_keeps_order_keys_and_schema():
    def judge(item, response):
        ok = response == item["answer"]
        return base.verdict_for(response or None, item["answer"], ok, "exact")

    out = base.check_each(_items(), _gens(["x/1", "x/0", "x/1"], ["2", "9", None]), judge, name="x")
    assert out.schema == pl.Schema(tables.CHECK_SCHEMA)
    assert out["item_id"].to_list() == ["x/1", "x/0", "x/1"]
    assert out["sample_idx"].to_list() == [0, 1, 2]
    assert out["verdict"].to_list() == ["correct", "wrong", "no_answer"]
    assert out["score"].to_list() == [1.0, 0.0, 0.0]
    assert out["gold"].to_list() == ["2", "1", "2"]


def test_check_each_unknown_item_names_it():
    with pytest.raises(DataError, match=r"'x/7'"):
        base.check_each(_items(), _gens(["x/0", "x/7"], ["1", "1"]), lambda i, r: None, name="x")


def test_check_frame_length_mismatch():
    with pytest.raises(DataError, match="1 judgements for 2"):
        check_frame(_gens(["x/0", "x/1"], ["", ""]), [Judgement(None, "", 0.0, "no_answer", "")])


def test_benchmark_frame_rejects_duplicate_ids():
    row = {
        "item_id": "x/0", "benchmark": "x", "category": "c", "question": "q",
        "choices": [], "answer": "", "payload": "{}",
    }  # fmt: skip
    with pytest.raises(DataError, match="x/0"):
        base.benchmark_frame([row, dict(row)], name="x")
