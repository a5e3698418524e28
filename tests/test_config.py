"""params.yaml validation: every malformed value stops with one message naming its key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.params_file import load_params, validate_params
from goodbadgreedy.plan import plan

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_shipped_params_are_valid_with_defaults_filled(params):
    cfg = validate_params(params)
    assert cfg["decoding"]["greedy"]["temperature"] == 1.0  # default filled in
    p = plan(cfg)
    assert p.outdir == "results/default" and p.samples_for(cfg["decoding"]["greedy"]) == 1
    assert p.samples_for(cfg["decoding"]["sample"]) == cfg["profiles"]["default"]["n_samples"]
    for profile in cfg["profiles"]:
        validate_params({**params, "profile": profile})


def _broken(params, path, value):
    cfg = copy.deepcopy(params)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return cfg


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (["benchmarks"], ["gsm8k", "nope"], r"benchmarks\[1\]: 'nope' is not one of"),
        (["profiles", "default", "n_samples"], 0, r"profiles.default.n_samples: 0 is less than the minimum of 1"),
        (
            ["decoding", "sample", "temperature"],
            -0.5,
            r"decoding.sample.temperature: -0.5 is less than the minimum of 0",
        ),
        (["decoding", "sample", "top_p"], 1.5, r"decoding.sample.top_p"),
        (["models"], KeyError, r"'models' is a required property"),
        (["models"], {}, r"models: \{\} should be non-empty"),
        (["models", "smollm2-135m", "source"], "ftp", r"models.smollm2-135m.source"),
        (["models", "smollm2-135m", "gguf_file"], KeyError, r"'gguf_file' is a required property"),
        (["profile"], "huge", r"profile: 'huge' is not one of the profiles"),
        # a profile name the benchmark specs give no default size for must list every benchmark
        (["profiles", "default"], KeyError, r"profile: 'default' is not one of the profiles"),
        (
            ["decoding", "sample", "temprature"],
            1.0,
            r"decoding.sample: Additional properties are not allowed \('temprature'",
        ),
        (["seed"], "abc", r"seed: 'abc' is not of type 'integer'"),
    ],
)
def test_malformed_params_name_the_key(params, path, value, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_params(_broken(params, path, value))


def test_profile_sizes_default_to_the_specs_and_unknown_profiles_need_them(params):
    """A profile may omit a benchmark in n_items / max_new_tokens: the spec's default for that
    profile name fills it; for a profile name no spec knows it stays an error naming the key."""
    from goodbadgreedy import benchmarks

    cfg = copy.deepcopy(params)
    cfg["profiles"]["default"]["n_items"] = {"gsm8k": 3}
    del cfg["profiles"]["smoke"]["max_new_tokens"]["humaneval"]
    out = validate_params(cfg)
    assert out["profiles"]["default"]["n_items"]["gsm8k"] == 3  # explicit values win
    assert out["profiles"]["default"]["n_items"]["mmlu_redux"] == benchmarks.spec("mmlu_redux").n_items["default"]
    assert (
        out["profiles"]["smoke"]["max_new_tokens"]["humaneval"] == benchmarks.spec("humaneval").max_new_tokens["smoke"]
    )
    cfg["profiles"]["tiny"] = {"n_items": {"gsm8k": 1}, "n_samples": 1, "max_new_tokens": {"gsm8k": 8}}
    with pytest.raises(ConfigError, match=r"profiles.tiny.n_items.mmlu_redux: missing"):
        validate_params({**cfg, "profile": "tiny"})


def test_shipped_profiles_equal_the_spec_defaults(params):
    """params.yaml keeps its explicit sizes (DVC reads the file); they are the specs' defaults."""
    from goodbadgreedy import benchmarks

    for prof_name, prof in params["profiles"].items():
        for key in ("n_items", "max_new_tokens"):
            for bench, value in prof[key].items():
                assert getattr(benchmarks.spec(bench), key)[prof_name] == value, (prof_name, key, bench)


def test_bad_yaml_names_line_and_column(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: 2024\nprofile: smoke\nmodels:\n  a: 1\n   b: 2\n")
    with pytest.raises(ConfigError) as info:
        load_params(bad)
    assert str(info.value) == (
        f"{bad}: not valid YAML: mapping values are not allowed in this context (line 5, column 5)"
    )


def test_snakefile_checks_params_yaml_before_snakemake_reads_it():
    """Snakemake's own message for a YAML error names no line: the Snakefile reads it first."""
    text = (REPO / "Snakefile").read_text()
    assert text.index('read_yaml_mapping("params.yaml")') < text.index('configfile: "params.yaml"')


def test_load_params_reports_bad_yaml(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("profile: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_overrides_apply_before_validation():
    cfg = load_params(REPO / "params.yaml", {"profile": "smoke"})
    assert plan(cfg).outdir == "results/smoke"


@pytest.mark.parametrize(
    "sweep, expected",
    [
        ({"top_k": {"values": [0.5, 10]}}, "sweeps.top_k.values[0]: 0.5 is not of type 'integer'"),
        ({"top_k": {"values": [1.0, 10.0]}}, "top_k=1.0 must be an integer >= 0"),
        ({"top_p": {"values": [0, 0.5]}}, "sweeps.top_p.values[0]: 0 is less than or equal to the minimum of 0"),
        ({"repetition_penalty": {"values": [0, 1.1]}}, "sweeps.repetition_penalty.values[0]: 0 is less than or equal"),
    ],
)
def test_sweep_values_are_checked_as_their_decoding_parameter(params, sweep, expected):
    """A top_k sweep of floats used to pass and crash in torch.topk during generation."""
    with pytest.raises(ConfigError) as info:
        validate_params({**params, "sweeps": sweep})
    assert expected in str(info.value)


def test_judge_defaults_are_stated_once():
    """The schema's judge defaults come from goodbadgreedy.judge.defaults, as judge_config's."""
    from goodbadgreedy.judge.client import judge_config
    from goodbadgreedy.judge.defaults import DEFAULTS
    from goodbadgreedy.params_file import load_schema

    props = load_schema()["properties"]["judge"]["properties"]
    assert {k: v["default"] for k, v in props.items()} == DEFAULTS == judge_config({})
