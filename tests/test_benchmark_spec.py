"""Each benchmark is declared once, in its ``BenchmarkSpec``; everything else reads the spec.

Policy (each clause is tested below):

1. A new benchmark is its module (``SPEC`` + ``load`` / ``build_prompt`` / ``check``), its raw
   data, and one registry entry: a toy benchmark written to ``tmp_path`` and registered (through
   the test-only hook ``benchmarks.registered``) shows up in the params schema's ``benchmarks``
   enum and ``benchmark_options`` (its defaults filled), passes ``validate_params`` with no
   profile edit (the spec's sizes fill ``n_items`` / ``max_new_tokens``), has bad option values
   rejected naming the dotted key, and loads, prompts and checks its data through the registry.
2. Every real spec's option defaults are valid against the spec's own option schemas, and the
   registry's data (names, judge set, specs) equals the modules' ``SPEC``.
3. The test can fail: a spec whose default violates its own bounds is rejected, and so is a spec
   missing a default.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from goodbadgreedy import benchmarks, tables
from goodbadgreedy.benchmarks.spec import BenchmarkSpec
from goodbadgreedy.errors import ConfigError
from goodbadgreedy.params_file import load_schema, validate_params

REPO = Path(__file__).resolve().parents[1]

TOY = '''
"""A toy benchmark: echo the number."""
import json
from pathlib import Path

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.spec import BenchmarkSpec
from goodbadgreedy.prompts import Prompt

SPEC = BenchmarkSpec(
    name="toy_echo",
    raw_files=("items.jsonl",),
    options={"repeat": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1,
                        "description": "times the number is shown"}},
    stop_sequences=("\\n",),
    n_items={"default": 2, "smoke": 1, "full": None},
    max_new_tokens={"default": 8, "smoke": 4, "full": 16},
)
NAME = SPEC.name
RAW_FILES = SPEC.raw_files
DEFAULT_OPTIONS = SPEC.default_options()


def load(raw_dir, options):
    base.merge_options(NAME, DEFAULT_OPTIONS, options)
    rows = []
    for i, line in enumerate(Path(raw_dir, RAW_FILES[0]).read_text().splitlines()):
        obj = json.loads(line)
        rows.append({"item_id": f"{NAME}/{i}", "benchmark": NAME, "category": "toy",
                     "question": obj["q"], "choices": [], "answer": obj["a"], "payload": "{}"})
    return base.benchmark_frame(rows, name=NAME)


def build_prompt(item, options):
    opts = base.merge_options(NAME, DEFAULT_OPTIONS, options)
    return Prompt(messages=({"role": "user", "content": " ".join([item["question"]] * opts["repeat"])},),
                  stop=SPEC.stop_sequences)


def check(items, generations, options):
    base.merge_options(NAME, DEFAULT_OPTIONS, options)

    def judge(item, response):
        got = (response or "").strip() or None
        return base.verdict_for(got, item["answer"], got == item["answer"], "exact")

    return base.check_each(items, generations, judge, name=NAME)
'''


@pytest.fixture()
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    pkg = tmp_path / "toybench"
    pkg.mkdir()
    (pkg / "toy_echo.py").write_text(TOY)
    raw = tmp_path / "data" / "raw" / "toy_echo"
    raw.mkdir(parents=True)
    (raw / "items.jsonl").write_text(
        json.dumps({"q": "say 7", "a": "7"}) + "\n" + json.dumps({"q": "say 9", "a": "9"}) + "\n"
    )
    monkeypatch.syspath_prepend(str(pkg))
    module = importlib.import_module("toy_echo")
    with benchmarks.registered(module):
        yield module, raw
    sys.modules.pop("toy_echo", None)


def test_toy_benchmark_appears_in_the_schema_with_its_defaults(toy):
    schema = load_schema()
    assert "toy_echo" in schema["properties"]["benchmarks"]["items"]["enum"]
    opts = schema["properties"]["benchmark_options"]["properties"]["toy_echo"]
    assert opts["additionalProperties"] is False
    assert opts["properties"]["repeat"]["default"] == 1 and opts["properties"]["repeat"]["maximum"] == 3
    assert benchmarks.names() == sorted([*benchmarks.MODULES, "toy_echo"])
    assert not benchmarks.uses_judge("toy_echo") and benchmarks.extracts_answers("toy_echo", {})


def test_toy_benchmark_validates_without_touching_profiles(toy, params):
    cfg = validate_params({**params, "benchmarks": ["gsm8k", "toy_echo"]})
    assert cfg["benchmark_options"]["toy_echo"] == {"repeat": 1}
    for prof in ("default", "smoke", "full"):
        assert cfg["profiles"][prof]["n_items"]["toy_echo"] == toy[0].SPEC.n_items[prof]
        assert cfg["profiles"][prof]["max_new_tokens"]["toy_echo"] == toy[0].SPEC.max_new_tokens[prof]
    # explicit params.yaml values still win
    assert cfg["profiles"]["default"]["n_items"]["gsm8k"] == params["profiles"]["default"]["n_items"]["gsm8k"]


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, r"benchmark_options.toy_echo.repeat: 0 is less than the minimum of 1"),
        (4, r"benchmark_options.toy_echo.repeat: 4 is greater than the maximum of 3"),
        ("x", r"benchmark_options.toy_echo.repeat: 'x' is not of type 'integer'"),
    ],
)
def test_toy_bad_option_values_name_the_key(toy, params, value, expected):
    bad = {**params, "benchmarks": ["toy_echo"], "benchmark_options": {"toy_echo": {"repeat": value}}}
    with pytest.raises(ConfigError, match=expected):
        validate_params(bad)
    unknown = {**params, "benchmarks": ["toy_echo"], "benchmark_options": {"toy_echo": {"repeats": 2}}}
    with pytest.raises(ConfigError, match=r"benchmark_options.toy_echo: Additional properties .*'repeats'"):
        validate_params(unknown)


def test_toy_unknown_benchmark_outside_the_registry_is_refused(params):
    with pytest.raises(ConfigError, match=r"benchmarks\[1\]: 'toy_echo' is not one of"):
        validate_params({**params, "benchmarks": ["gsm8k", "toy_echo"]})


def test_toy_load_prompt_check_through_the_registry(toy):
    module, raw = toy
    bench = benchmarks.get("toy_echo")
    assert bench is module
    items = bench.load(raw, {"repeat": 2})
    assert items["question"].to_list() == ["say 7", "say 9"]
    prompt = bench.build_prompt(items.row(0, named=True), {"repeat": 2})
    assert prompt.messages[0]["content"] == "say 7 say 7" and prompt.stop == ("\n",)
    gens = pl.DataFrame(
        {
            "model": ["m"] * 2,
            "benchmark": ["toy_echo"] * 2,
            "config": ["greedy"] * 2,
            "item_id": ["toy_echo/0", "toy_echo/1"],
            "sample_idx": [0, 0],
            "seed": [None, None],
            "prompt": ["p", "p"],
            "response": ["7", "8"],
            "prompt_tokens": [1, 1],
            "response_tokens": [1, 1],
            "finish_reason": ["eos", "eos"],
            "logprobs": [None] * 2, "processed_logprobs": [None] * 2,
        },
        schema=tables.GENERATION_SCHEMA,
    )
    out = bench.check(items, gens, {})
    assert out["verdict"].to_list() == ["correct", "wrong"]


def test_registering_twice_or_an_existing_name_is_refused(toy):
    with pytest.raises(ConfigError, match="already registered"):
        with benchmarks.registered(toy[0]):
            pass
    assert "toy_echo" in benchmarks.names()  # the outer registration is untouched


@pytest.mark.parametrize("name", benchmarks.MODULES)
def test_real_spec_defaults_are_valid_and_equal_the_modules(name):
    spec = benchmarks.spec(name)
    spec.check_defaults()
    module = benchmarks.get(name)
    assert module.SPEC is spec
    assert module.NAME == spec.name == name
    assert module.RAW_FILES == spec.raw_files
    assert module.DEFAULT_OPTIONS == spec.default_options()
    assert getattr(module, "STOP", ()) == spec.stop_sequences
    assert (name in benchmarks.JUDGE_BENCHMARKS) == spec.uses_judge == benchmarks.uses_judge(name)
    assert set(spec.n_items) == {"default", "smoke", "full"}
    # the schema's options block is the spec's
    assert load_schema()["properties"]["benchmark_options"]["properties"][name] == spec.options_schema()


def test_mixeval_extracts_answers_only_on_multiple_choice():
    assert benchmarks.extracts_answers("mixeval", {"split": "multiple_choice"})
    assert not benchmarks.extracts_answers("mixeval", {})  # default split: both
    assert not benchmarks.extracts_answers("alpaca_eval", {})


def test_a_default_outside_its_own_bounds_is_rejected():
    """The check can fail: defaults are validated against the spec's own option schema."""
    bad = BenchmarkSpec(
        name="bad", raw_files=("x.json",), options={"k": {"type": "integer", "minimum": 1, "maximum": 3, "default": 5}}
    )
    with pytest.raises(ConfigError, match=r"'bad': option 'k': default: 5 is greater than the maximum of 3"):
        bad.check_defaults()
    with pytest.raises(ConfigError, match=r"option 'k' needs a schema with a default"):
        BenchmarkSpec(name="bad", raw_files=("x.json",), options={"k": {"type": "integer"}})
    with pytest.raises(ConfigError, match="n_items and max_new_tokens"):
        BenchmarkSpec(name="bad", raw_files=("x.json",), n_items={"default": 1})
    good = copy.deepcopy(dict(bad.options))
    good["k"]["default"] = 2
    BenchmarkSpec(name="bad", raw_files=("x.json",), options=good).check_defaults()
