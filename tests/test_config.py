"""params.yaml validation: every malformed value stops with one message naming its key."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
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


# --- duplicate keys ------------------------------------------------------------------------------


def _line_of(text: str, line: str) -> int:
    """1-based number of the first line of ``text`` equal to ``line``."""
    return text.splitlines().index(line) + 1


def _duplicated(kind: str) -> tuple[str, str, str, tuple[int, int]]:
    """params.yaml's text with one key given twice, the same text with it given once (the negative
    control), the key's dotted path and its two lines."""
    text = (REPO / "params.yaml").read_text()
    lines = text.splitlines()
    if kind == "top level":  # a second `seed:` at the end of the file
        dup = text + "seed: 7\n"
        once = text.replace("seed: 2024\n", "") + "seed: 7\n"
        return dup, once, "seed", (_line_of(text, "seed: 2024"), len(lines) + 1)
    if kind == "nested":  # profiles.smoke gets a second n_samples above its own
        at = _line_of(text, "  smoke:")
        own = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("n_samples:")) + 1
        dup = "\n".join(lines[:at] + ["    n_samples: 5"] + lines[at:]) + "\n"
        once = "\n".join(lines[:at] + ["    n_samples: 5"] + [x for i, x in enumerate(lines[at:], at + 1)
                                                              if i != own]) + "\n"
        return dup, once, "profiles.smoke.n_samples", (at + 1, own + 1)
    assert kind == "flow mapping"  # {gsm8k: 2, gsm8k: 5, ...} in the smoke profile's n_items
    old = "    n_items: {gsm8k: 2, mmlu_redux: 3,"
    assert text.count(old) == 1
    at = _line_of(text, next(x for x in lines if x.startswith(old)))
    dup = text.replace(old, "    n_items: {gsm8k: 2, gsm8k: 5, mmlu_redux: 3,")
    once = text.replace(old, "    n_items: {gsm8k: 5, mmlu_redux: 3,")
    return dup, once, "profiles.smoke.n_items.gsm8k", (at, at)


@pytest.mark.parametrize("kind", ["top level", "nested", "flow mapping"])
def test_a_duplicate_key_stops_naming_its_dotted_path_and_both_lines(tmp_path, kind):
    """Policy: a key may appear once in each mapping of params.yaml, at any depth, block or flow;
    a duplicate stops reading the file with ONE message naming the key's dotted path and the lines
    of both occurrences (PyYAML, and so Snakemake, would keep the last value silently). Negative
    control: the same file with the key once loads, and the value given is the one kept."""
    dup, once, key, (first, second) = _duplicated(kind)
    path = tmp_path / "params.yaml"
    path.write_text(dup)
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert str(info.value) == (
        f"{path}: duplicate key {key!r} (line {first} and line {second}): a key may appear once"
    )
    path.write_text(once)
    cfg = load_params(path)
    node = cfg
    for part in key.split("."):
        node = node[part]
    assert node in (5, 7)  # the value of the edit, not the original one


def test_duplicate_key_check_keeps_yaml_merge_keys_and_names_list_items(tmp_path):
    """Policy, continued: a merge key (`<<: *anchor`) is not a duplicate of the keys it brings in
    (YAML lets the mapping's own keys override them); inside a list the path names the index."""
    from goodbadgreedy.params_file import read_yaml_mapping

    path = tmp_path / "x.yaml"
    path.write_text("base: &b {top_p: 0.9, temperature: 1.0}\nhot:\n  <<: *b\n  temperature: 1.5\n")
    assert read_yaml_mapping(path)["hot"] == {"top_p": 0.9, "temperature": 1.5}
    path.write_text("families:\n  f:\n    - a\n    - {x: 1,\n       x: 2}\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'families\.f\[1\]\.x' \(line 4 and line 5\)"):
        read_yaml_mapping(path)


# --- a local model folder that does not exist ----------------------------------------------------


def _with_model(params, model_id: str) -> dict:
    cfg = copy.deepcopy(params)
    cfg["models"]["local"] = {"source": "hf", "id": model_id}
    return cfg


@pytest.mark.parametrize("model_id", ["{tmp}/no/such/folder", "./models/x", "../x", "~/x", "~"])
def test_a_path_like_model_id_must_be_an_existing_folder(params, tmp_path, monkeypatch, model_id):
    """Policy: a `source: hf` model whose id is a path (absolute, or starting with ./, ../ or ~)
    names a local folder: validation stops when it does not exist, naming `models.<name>.id` and
    the resolved folder (~ expanded, relative ids against the workflow's directory). A file there
    is refused the same way ("is not a folder"). Negative control: once the folder exists, the same
    params validate."""
    home, workdir = tmp_path / "home", tmp_path / "wf"
    home.mkdir()
    workdir.mkdir()
    monkeypatch.setenv("HOME", str(home))
    model_id = model_id.format(tmp=tmp_path)
    folder = {"./models/x": workdir / "models" / "x", "../x": tmp_path / "x", "~/x": home / "x", "~": home}.get(
        model_id, Path(model_id)
    )
    if model_id == "~":  # the home folder exists: make it a file to see the check fail
        home.rmdir()
        home.write_text("")
        problem = "is not a folder"
    else:
        problem = "does not exist"
    with pytest.raises(ConfigError) as info:
        validate_params(_with_model(params, model_id), base_dir=workdir)
    assert str(info.value).startswith(f"params.yaml: models.local.id: folder {folder} {problem} (id {model_id!r}")
    if model_id == "~":
        home.unlink()
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.write_text("")  # a file where the folder should be
        with pytest.raises(ConfigError, match=f"models.local.id: folder {re.escape(str(folder))} is not a folder"):
            validate_params(_with_model(params, model_id), base_dir=workdir)
        folder.unlink()
    folder.mkdir(parents=True)
    cfg = validate_params(_with_model(params, model_id), base_dir=workdir)
    assert cfg["models"]["local"]["id"] == model_id  # validated as written; the model stage resolves it


@pytest.mark.parametrize("model_id", ["HuggingFaceTB/SmolLM2-135M-Instruct", "no-such-org/no-such-model", "gpt2"])
def test_hub_ids_are_not_checked_as_folders(params, tmp_path, model_id):
    """Policy, continued: a hub id (org/name, or a bare name) is not a path: validation leaves it to
    the model stage (hub cache or download), whether or not such a folder exists."""
    assert validate_params(_with_model(params, model_id), base_dir=tmp_path)["models"]["local"]["id"] == model_id


def test_load_params_resolves_relative_model_folders_against_the_files_folder(params, tmp_path):
    """The workflow runs where params.yaml is: load_params resolves ./ ids against the file's folder."""
    (tmp_path / "models" / "m").mkdir(parents=True)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_with_model(params, "./models/m")))
    assert load_params(path)["models"]["local"]["id"] == "./models/m"
    path.write_text(yaml.safe_dump(_with_model(params, "./models/missing")))
    with pytest.raises(ConfigError, match=f"models.local.id: folder {re.escape(str(tmp_path))}/models/missing does"):
        load_params(path)


# --- Snakemake: the same checks before any job ---------------------------------------------------


def _workflow_dir(root: Path, params_text: str) -> Path:
    """A working directory for the repository's Snakefile (`snakemake -s REPO/Snakefile -d DIR`):
    its own params.yaml, the vendored raw data linked read-only, nothing else."""
    root.mkdir()
    (root / "params.yaml").write_text(params_text)
    (root / "data").mkdir()
    (root / "data" / "raw").symlink_to(REPO / "data" / "raw")
    return root


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--workflow-profile", "none", "--cores", "1", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def _jobs(out: str) -> list[str]:
    return re.findall(r"^\s*(?:local)?rule (\w+):", out, flags=re.M)


def test_snakemake_stops_before_any_job_on_a_missing_model_folder_or_a_duplicate_key(tmp_path):
    """Policy: Snakemake stops at parse time, before any job, with the validation message: a
    `source: hf` model whose path-like id is no folder (it used to fail at run time in the
    prepare_model job, as an invalid hub repo id); a key given twice in params.yaml, or in an
    overlay given with --configfile (Snakemake's own reader keeps the last one). Negative control:
    with the folder made and no duplicate, the same dry run lists the jobs, the model's
    prepare_model job among them."""
    text = (REPO / "params.yaml").read_text()
    model = "  local:\n    source: hf\n    id: ./models/local-hf\n"
    text = text.replace("\nmodels:\n", "\nmodels:\n" + model, 1)
    assert model in text
    wd = _workflow_dir(tmp_path / "wf", text)
    res = _snakemake(wd, "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert f"params.yaml: models.local.id: folder {wd}/models/local-hf does not exist" in out, out[-3000:]
    assert _jobs(out) == [], out[-3000:]

    (wd / "models" / "local-hf").mkdir(parents=True)
    (wd / "params.yaml").write_text(text + "seed: 1\n")
    res = _snakemake(wd, "-n")
    out = res.stdout + res.stderr
    seed = _line_of(text, "seed: 2024")
    assert res.returncode != 0
    assert f"params.yaml: duplicate key 'seed' (line {seed} and line {len(text.splitlines()) + 1})" in out, out[-3000:]
    assert _jobs(out) == []

    (wd / "params.yaml").write_text(text)
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("generation:\n  shards: 2\n  batch_size: 8\n  shards: 1\n")
    res = _snakemake(wd, "-n", "--configfile", str(overlay))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert f"{overlay}: duplicate key 'generation.shards' (line 2 and line 4)" in out, out[-3000:]
    assert _jobs(out) == []

    res = _snakemake(wd, "-n", "models/local/manifest.json")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert _jobs(out) == ["prepare_model"], out[-3000:]


# --- the judge's settings per profile ------------------------------------------------------------


def test_a_profile_sets_the_judge_settings_that_size_a_run(params):
    """Policy: `profiles.<name>.judge` may set the judge's `max_tokens` and `concurrency` (the
    settings that size a run) and nothing else; the run's judge (goodbadgreedy.judge.defaults.run_judge)
    is the `judge` section with the ACTIVE profile's block over it. Negative controls: another
    profile's block does not leak into this run, a profile without a block keeps the section's
    values, and a bad value or another key stops validation naming the dotted key."""
    from goodbadgreedy.judge.defaults import run_judge

    cfg = copy.deepcopy(params)
    cfg["judge"]["max_tokens"] = 300
    cfg["profiles"]["smoke"]["judge"] = {"max_tokens": 9, "concurrency": 3}
    cfg["profiles"]["default"].pop("judge", None)
    cfg["profiles"]["full"]["judge"] = {"max_tokens": 4000}
    smoke = validate_params({**cfg, "profile": "smoke"})
    assert run_judge(smoke) == {**smoke["judge"], "max_tokens": 9, "concurrency": 3}
    assert smoke["judge"]["max_tokens"] == 300  # the section itself is unchanged
    default = validate_params({**cfg, "profile": "default"})
    assert run_judge(default) == default["judge"] and run_judge(default)["max_tokens"] == 300
    assert run_judge(default, "full")["max_tokens"] == 4000
    assert run_judge(default, "full")["concurrency"] == default["judge"]["concurrency"]
    for block, expected in [
        ({"max_tokens": 0}, r"profiles.smoke.judge.max_tokens: 0 is less than the minimum of 1"),
        ({"concurrency": "2"}, r"profiles.smoke.judge.concurrency: '2' is not of type 'integer'"),
        ({"model": "gpt-4"}, r"profiles.smoke.judge: Additional properties are not allowed \('model'"),
    ]:
        bad = copy.deepcopy(cfg)
        bad["profiles"]["smoke"]["judge"] = block
        with pytest.raises(ConfigError, match=expected):
            validate_params(bad)


def test_shipped_profiles_size_the_judge():
    """The shipped smoke profile shortens the judge's outputs (README "Judge-based benchmarks"
    gives the time it takes); the default and full profiles keep the `judge` section's budget."""
    from goodbadgreedy.judge.defaults import run_judge

    cfg = load_params(REPO / "params.yaml")
    section = cfg["judge"]["max_tokens"]
    assert run_judge(cfg, "smoke")["max_tokens"] < section
    assert run_judge(cfg, "default")["max_tokens"] == run_judge(cfg, "full")["max_tokens"] == section


def test_profile_judge_max_tokens_reaches_exactly_the_judged_check_jobs(tmp_path):
    """Policy: the run's judge is the judged check jobs' `judge` param, so Snakemake re-runs
    exactly those jobs when `profiles.<active>.judge.max_tokens` changes (params trigger), and
    nothing else. Every job's outputs are made up to date (empty files; `snakemake --touch`
    records each job's params), then params.yaml is edited and a dry run lists what re-runs.
    Negative controls: the same block in another profile re-runs nothing, and neither does a new
    `judge.max_tokens` in the section while the active profile's block keeps the old value."""
    text = (REPO / "params.yaml").read_text()
    text = re.sub(r"(?m)^    judge: \{.*\}\n", "", text)  # the shipped profiles' judge blocks (flow style)
    text = text.replace("\nprofile: default\n", "\nprofile: smoke\n")
    text = re.sub(r"\nbenchmarks: \[.*\]\n", "\nbenchmarks: [mmlu_redux, mixeval]\n", text)
    assert "    judge:" not in text and "\nprofile: smoke\n" in text and "[mmlu_redux, mixeval]" in text
    section = load_params(REPO / "params.yaml")["judge"]["max_tokens"]
    assert f"\n  max_tokens: {section}" in text
    wd = _workflow_dir(tmp_path / "wf", text)
    targets = [f"results/smoke/checks/smollm2-135m/{b}/{c}.parquet" for b in ("mmlu_redux", "mixeval")
               for c in ("greedy", "sample")]
    res = _snakemake(wd, "-n", *targets)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    outputs = [f for line in re.findall(r"^\s+output: (.*)$", res.stdout, flags=re.M) for f in line.split(", ")]
    assert set(targets) <= set(outputs)
    for f in outputs:
        (wd / f).parent.mkdir(parents=True, exist_ok=True)
        (wd / f).write_text("")
    res = _snakemake(wd, "--touch", "--forceall", *targets)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]

    def rerun(params_text: str) -> list[tuple[str, str]]:
        (wd / "params.yaml").write_text(params_text)
        out = _snakemake(wd, "-n", *targets)
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        wildcards = re.findall(r"^\s+wildcards: (.*)$", out.stdout, flags=re.M)
        return sorted(zip(_jobs(out.stdout), wildcards, strict=True))

    def with_judge(params_text: str, profile: str, max_tokens: int) -> str:
        at = f"\n  {profile}:\n"
        assert params_text.count(at) == 1
        return params_text.replace(at, f"{at}    judge: {{max_tokens: {max_tokens}}}\n")

    assert rerun(text) == []  # as recorded
    assert rerun(with_judge(text, "smoke", section + 1)) == [
        ("check", f"model=smollm2-135m, benchmark=mixeval, cfg={c}") for c in ("greedy", "sample")
    ]
    assert rerun(with_judge(text, "default", section + 1)) == []
    raised = text.replace(f"\n  max_tokens: {section}", f"\n  max_tokens: {section + 1}", 1)
    assert rerun(with_judge(raised, "smoke", section)) == []
    assert rerun(raised) != []  # without the block, the section's new value reaches the jobs


def test_dvc_check_stage_tracks_the_profile_judge_block():
    """Policy: DVC re-runs the check stage's command when the run's judge changes: its params list
    the `judge` section and `profiles` (which holds each profile's `judge` block); then Snakemake's
    params trigger picks the judged check jobs (test above)."""
    from goodbadgreedy.stages import read_stages

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert {"judge", "profiles"} <= set(stages["check"]["params"])
    assert "check" in read_stages(REPO / "dvc.yaml")["check"].rules  # the stage runs the check rule


def test_generate_jobs_run_generation_threads(tmp_path):
    """Policy: a generate job's threads (Snakemake's, which the job hands to torch) are
    params.yaml's `generation.threads`, 1 by default, and Snakemake caps them at --cores (so two
    1-thread generate jobs share a 2-core machine). Checked on the dry run's job listing
    (Snakemake prints `threads: N` for N > 1 only). Negative control: `threads: 2` at --cores 2
    does show 2, and at --cores 1 is capped to 1."""
    text = (REPO / "params.yaml").read_text().replace("\nprofile: default\n", "\nprofile: smoke\n")
    assert "\n  threads: 1\n" in text
    wd = _workflow_dir(tmp_path / "wf", text)
    target = "results/smoke/generations/smollm2-135m/gsm8k/greedy.parquet"

    def generate_threads(params_text: str, cores: int) -> int:
        (wd / "params.yaml").write_text(params_text)
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
        cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(wd),
               "--workflow-profile", "none", "--cores", str(cores), "-n", target]
        res = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
        job = res.stdout.split("\nrule generate:\n", 1)[1].split("\n[", 1)[0].split("\nJob stats", 1)[0]
        found = re.findall(r"^\s+threads: (\d+)$", job, flags=re.M)
        return int(found[0]) if found else 1

    assert generate_threads(text, 2) == 1
    two = text.replace("\n  threads: 1\n", "\n  threads: 2\n")
    assert generate_threads(two, 2) == 2
    assert generate_threads(two, 1) == 1
