"""``goodbadgreedy lineage`` and ``goodbadgreedy verify`` trust a number only when every file behind it matches.

Policy (goodbadgreedy.audit, goodbadgreedy.cli), each clause tested below:

1. ``lineage FILE`` checks FILE against the sha256 its own sidecar recorded, then every input its
   sidecar lists against that record, recursively through the inputs' sidecars down to the raw
   files (which have none: they are recorded by the normalize stage's tables).
2. A file that differs from a record is CHANGED, one that is gone MISSING; each is printed with its
   path, its current sha256 (or ``missing``), the recorded sha256 and the artifact that recorded
   it. Any such file makes the command exit 1; a tree where everything matches exits 0.
3. Each artifact is printed once: a node reached again is one ``(see above)`` line, not
   expanded again (its consumer's record is still checked).
4. Both commands end with ``N artifacts verified, M changed, K missing``: N distinct files checked
   (inputs outside the folder included), M and K the changed and missing ones among them.
5. ``verify [DIR]`` checks every artifact with a sidecar under DIR (a sidecar whose artifact is
   gone: missing) and all it recorded, each file hashed once however often it is recorded.
6. Usage and project errors exit 2 with one line naming the file, no traceback: FILE missing,
   FILE without sidecar, a malformed sidecar, a CSV that --row cannot read, DIR missing or
   without sidecars.
7. Relative paths in sidecars start at the workflow folder found from the artifact's recorded
   path, so both commands give the same answer from any current folder.

The tree is a small real pipeline built with the library's stage functions (normalize on the
vendored GSM8K file, select_items, the GSM8K check, table1) and published with the real
``publish_table``/``write_lineage``, with relative paths as Snakemake records them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from goodbadgreedy import audit as audit_mod
from goodbadgreedy import tables
from goodbadgreedy.audit import trace
from goodbadgreedy.cli import main
from goodbadgreedy.data import normalize, select_items
from goodbadgreedy.io import write_csv, write_json
from goodbadgreedy.lineage import publish_table, write_lineage
from goodbadgreedy.table1 import table1

REPO = Path(__file__).resolve().parents[1]
RAW = "data/raw/gsm8k/test.jsonl"
SUMS = "data/raw/SHA256SUMS"
BENCH = "data/benchmarks/gsm8k.parquet"
MANIFEST = "models/tiny/manifest.json"
OUT = "results/t"
ITEMS = f"{OUT}/items/gsm8k.parquet"
GEN = {c: f"{OUT}/generations/tiny/gsm8k/{c}.parquet" for c in ("greedy", "sample")}
CHK = {c: f"{OUT}/checks/tiny/gsm8k/{c}.parquet" for c in ("greedy", "sample")}
TABLE1 = f"{OUT}/table1.csv"
RUNS = f"{OUT}/runs.csv"
N_ITEMS, N_SAMPLES = 3, 2


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _generations(items: pl.DataFrame, config: str, n: int, right: set[tuple[int, int]]) -> pl.DataFrame:
    """A generation table whose sample (i, s) answers item i right iff (i, s) is in ``right``."""
    rows = []
    for i, (item_id, answer) in enumerate(zip(items["item_id"], items["answer"], strict=True)):
        for s in range(n):
            value = answer if (i, s) in right else f"{answer}1"
            rows.append({"model": "tiny", "benchmark": "gsm8k", "config": config, "item_id": item_id,
                         "sample_idx": s, "seed": None if config == "greedy" else 100 + s,
                         "prompt": f"Question {item_id}", "response": f"Let me see. The answer is {value}.",
                         "prompt_tokens": 12, "response_tokens": 8 + s, "finish_reason": "eos"})
    return pl.DataFrame(rows, schema=tables.GENERATION_SCHEMA)


def build_pipeline(root: Path) -> None:
    """normalize -> select_items -> (model) -> generate -> check -> aggregate, in ``root``, relative paths.

    Greedy answers 1 of 3 items right, so Table 1's greedy cell is 33.33.
    """
    from goodbadgreedy import benchmarks

    cwd = os.getcwd()
    os.chdir(root)
    try:
        Path(RAW).parent.mkdir(parents=True)
        shutil.copyfile(REPO / RAW, RAW)
        Path(SUMS).write_text(f"{sha(RAW)}  gsm8k/test.jsonl\n")
        options = {"n_shot": 0}
        Path(BENCH).parent.mkdir(parents=True)
        publish_table(normalize("gsm8k", "data/raw", SUMS, options), BENCH, kind="benchmark", stage="normalize",
                      inputs=[RAW, SUMS], params={"options": options}, wildcards={"benchmark": "gsm8k"})
        publish_table(select_items(pl.read_parquet(BENCH), N_ITEMS, 7), ITEMS, kind="benchmark",
                      stage="select_items", inputs=[BENCH], params={"n_items": N_ITEMS, "seed": 7},
                      expected_rows=N_ITEMS)
        write_json({"name": "tiny", "weights": "none"}, MANIFEST)
        write_lineage(MANIFEST, stage="prepare_model", inputs=[], params={"spec": {"source": "packaged"}})
        items = pl.read_parquet(ITEMS)
        right = {"greedy": {(0, 0)}, "sample": {(0, 0), (1, 0), (1, 1), (2, 1)}}
        for cfg, n in (("greedy", 1), ("sample", N_SAMPLES)):
            gens = _generations(items, cfg, n, right[cfg])
            publish_table(gens, GEN[cfg], kind="generation", stage="generate", inputs=[MANIFEST, ITEMS],
                          params={"n_samples": n}, wildcards={"model": "tiny", "benchmark": "gsm8k", "cfg": cfg},
                          expected_rows=N_ITEMS * n)
            checks = benchmarks.get("gsm8k").check(items, gens, options)
            publish_table(checks, CHK[cfg], kind="check", stage="check", inputs=[GEN[cfg], ITEMS],
                          params={"options": options}, expected_rows=gens.height)
        inputs = [*CHK.values(), *GEN.values()]
        checks = pl.concat([pl.read_parquet(p) for p in CHK.values()])
        gens = pl.concat([pl.read_parquet(p) for p in GEN.values()])
        write_csv(table1(checks, gens, "greedy", "sample"), TABLE1)
        write_csv(checks.group_by("config", "sample_idx").agg(pl.col("score").mean()).sort("config", "sample_idx"),
                  RUNS)
        for out in (TABLE1, RUNS):
            write_lineage(out, stage="aggregate", inputs=inputs, params={"n_samples": N_SAMPLES})
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    build_pipeline(root)
    return root


@pytest.fixture
def tree(pristine, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the pipeline tree, the current folder (as when Snakemake ran)."""
    root = tmp_path / "wf"
    shutil.copytree(pristine, root)
    monkeypatch.chdir(root)
    return root


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_tree_is_what_the_tests_assume(tree):
    """Greedy is 33.33 in Table 1 (the value the hand-edit test changes)."""
    t1 = pl.read_csv(TABLE1)
    assert t1["greedy"].to_list() == [pytest.approx(33.33)]
    assert "33.33" in Path(TABLE1).read_text()


def summary(n: int, changed: int = 0, missing: int = 0) -> str:
    return f"{n} artifacts verified, {changed} changed, {missing} missing"


#: Files behind Table 1 (clause 4, counted by hand from build_pipeline): table1, 2 checks,
#: 2 generations, items, model manifest, benchmark table, raw file, SHA256SUMS.
N_TABLE1 = 10
#: verify results: the same plus runs.csv (its inputs are Table 1's).
N_RESULTS = 11


def test_untouched_tree_verifies(tree, capsys):
    """Negative control of clauses 2 and 4: nothing edited -> exit 0, the exact summary, no flag."""
    code, out, err = run_cli(capsys, "lineage", TABLE1, "--row", "tiny,gsm8k")
    assert (code, err) == (0, "")
    assert out.rstrip().endswith(summary(N_TABLE1)) and "!!" not in out
    assert "greedy=33.33" in out
    for path in (RAW, SUMS, BENCH, ITEMS, MANIFEST, *GEN.values(), *CHK.values()):
        assert f"] {path}  sha256:{sha(path)[:16]}" in out  # every file down to the raw data, current sha256
    code, out, err = run_cli(capsys, "verify")  # default DIR: results
    assert (code, out, err) == (0, summary(N_RESULTS) + "\n", "")


def test_hand_edited_table1_row_fails_both_commands(tree, capsys):
    """Clauses 1, 2: Table 1 itself is checked against its own sidecar; the edit is named with both sha256."""
    recorded = sha(TABLE1)
    Path(TABLE1).write_text(Path(TABLE1).read_text().replace(",33.33,", ",93.33,"))
    current = sha(TABLE1)
    assert current != recorded
    code, out, err = run_cli(capsys, "lineage", TABLE1, "--row", "tiny,gsm8k,greedy")
    assert code == 1 and err == ""
    assert "greedy=93.33" in out  # the row is shown as it is now ...
    assert f"!! {TABLE1} differs from its lineage record" in out  # ... and said not to be the pipeline's
    assert f"[aggregate] {TABLE1}  sha256:{current[:16]}  !! CHANGED" in out
    assert f"current  sha256:{current}" in out
    assert f"recorded sha256:{recorded}  by {TABLE1}.lineage.json" in out
    assert out.rstrip().endswith(summary(8, changed=1))  # --row greedy: 2 generation/check files fewer
    code, out, _ = run_cli(capsys, "verify", "results")
    assert code == 1
    assert out == (f"CHANGED {TABLE1}\n    current  sha256:{current}\n"
                   f"    recorded sha256:{recorded}  by {TABLE1}.lineage.json\n{summary(N_RESULTS, changed=1)}\n")


def test_changed_generation_table_deep_in_the_chain(tree, capsys):
    """Clauses 1-3: an input two levels down is checked against every consumer's record, shown once."""
    recorded = sha(GEN["greedy"])
    gens = pl.read_parquet(GEN["greedy"]).with_columns(pl.col("response").str.replace("Let me", "I"))
    gens.write_parquet(GEN["greedy"])
    current = sha(GEN["greedy"])
    code, out, _ = run_cli(capsys, "lineage", TABLE1)
    assert code == 1
    assert f"[generate] {GEN['greedy']}  sha256:{current[:16]}  !! CHANGED" in out
    assert f"recorded sha256:{recorded}  by {CHK['greedy']}" in out  # the check table read other bytes
    assert f"recorded sha256:{recorded}  by {GEN['greedy']}.lineage.json" in out  # ... than were published
    assert f"[generate] {GEN['greedy']}  (see above)  !! CHANGED" in out  # Table 1 read them too
    assert f"recorded sha256:{recorded}  by {TABLE1}" in out
    assert out.rstrip().endswith(summary(N_TABLE1, changed=1))
    code, out, _ = run_cli(capsys, "verify")
    assert code == 1 and out.startswith(f"CHANGED {GEN['greedy']}\n    current  sha256:{current}\n")
    for by in (f"{GEN['greedy']}.lineage.json", CHK["greedy"], TABLE1, RUNS):
        assert f"    recorded sha256:{recorded}  by {by}\n" in out
    assert out.endswith(summary(N_RESULTS, changed=1) + "\n")


def test_missing_raw_file_fails_both_commands(tree, capsys):
    """Clauses 1, 2: the raw file, recorded by the normalize table, is reached and reported missing."""
    recorded = sha(RAW)
    Path(RAW).unlink()
    code, out, _ = run_cli(capsys, "lineage", TABLE1, "--row", "tiny,gsm8k,sample")
    assert code == 1
    assert f"[source] {RAW}  missing  !! MISSING" in out
    assert "current  missing" in out and f"recorded sha256:{recorded}  by {BENCH}" in out
    assert out.rstrip().endswith(summary(8, missing=1))
    code, out, _ = run_cli(capsys, "verify")
    assert code == 1
    assert out == (f"MISSING {RAW}\n    current  missing\n    recorded sha256:{recorded}  by {BENCH}\n"
                   f"{summary(N_RESULTS, missing=1)}\n")


def test_changed_raw_file_and_checksum_file(tree, capsys):
    """Clause 2 on the raw data: an edited raw file and an edited SHA256SUMS are both named."""
    Path(RAW).write_bytes(Path(RAW).read_bytes().replace(b"Janet", b"Jane", 1))
    Path(SUMS).write_text(f"{sha(RAW)}  gsm8k/test.jsonl\n")  # "fixing" the sums does not hide it
    code, out, _ = run_cli(capsys, "verify")
    assert code == 1
    assert f"CHANGED {RAW}\n" in out and f"CHANGED {SUMS}\n" in out
    assert out.endswith(summary(N_RESULTS, changed=2) + "\n")


def test_stale_consumer_counts_as_changed(tree, capsys):
    """Clause 2 ("any record"): a check table re-published (own sidecar matches) that Table 1 did not read."""
    before = sha(CHK["sample"])
    checks = pl.read_parquet(CHK["sample"]).with_columns(pl.lit(0.0).alias("score"))
    publish_table(checks, CHK["sample"], kind="check", stage="check", inputs=[GEN["sample"], ITEMS],
                  expected_rows=checks.height)
    after = sha(CHK["sample"])
    code, out, _ = run_cli(capsys, "verify")
    assert code == 1
    assert f"CHANGED {CHK['sample']}\n    current  sha256:{after}\n" in out
    assert f"recorded sha256:{before}  by {TABLE1}\n" in out and f"by {CHK['sample']}.lineage.json" not in out
    assert out.endswith(summary(N_RESULTS, changed=1) + "\n")


def test_each_artifact_is_printed_once(tree, capsys):
    """Clause 3: one full node per file; every later reach is a one-line (see above) reference."""
    code, out, _ = run_cli(capsys, "lineage", TABLE1)
    assert code == 0
    nodes = [line.strip() for line in out.splitlines() if line.lstrip().startswith("[")]
    shown = [n.split("] ", 1)[1].split("  ", 1)[0] for n in nodes if "(see above)" not in n]
    assert sorted(shown) == sorted(set(shown)) and len(shown) == N_TABLE1
    refs = [n.split("] ", 1)[1].split("  ", 1)[0] for n in nodes if "(see above)" in n]
    assert ITEMS in refs and MANIFEST in refs and set(refs) <= set(shown)  # there are repeats to fold
    assert out.count("params: ") == len(shown) - 2  # once per artifact; raw file and SHA256SUMS have none
    nodes_data = trace(TABLE1)
    assert sum(not n["repeat"] for n in nodes_data) == N_TABLE1
    assert all(n["status"] == "ok" for n in nodes_data)


def test_verify_hashes_each_file_once(tree, capsys, monkeypatch):
    """Clause 5: every file hashed once although items, the benchmark and the raw data are recorded many times."""
    calls: list[str] = []
    real = audit_mod.sha256_file

    def counting(path, *a, **k):
        calls.append(os.path.abspath(path))
        return real(path, *a, **k)

    monkeypatch.setattr(audit_mod, "sha256_file", counting)
    audit = audit_mod.verify_folder("results")
    assert sorted(calls) == sorted(set(calls)) and len(calls) == N_RESULTS
    records = sum(len(r) for r in audit.records().values())
    assert records > len(calls)  # the test could fail: files are recorded more often than hashed


def test_sidecar_whose_artifact_is_gone(tree, capsys):
    """Clause 5: a sidecar without its artifact counts the artifact missing (verify); lineage on it is an error."""
    recorded = sha(RUNS)
    Path(RUNS).unlink()
    code, out, _ = run_cli(capsys, "verify")
    assert code == 1
    assert f"MISSING {RUNS}\n    current  missing\n    recorded sha256:{recorded}  by {RUNS}.lineage.json\n" in out
    assert out.endswith(summary(N_RESULTS, missing=1) + "\n")
    code, out, err = run_cli(capsys, "lineage", RUNS)
    assert code == 2 and out == ""
    assert err == (f"goodbadgreedy: error: {RUNS}: no such file (its lineage sidecar {RUNS}.lineage.json is "
                   "still there: the artifact was deleted or moved)\n")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "goodbadgreedy.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["missing file", "no sidecar", "bad sidecar", "corrupt csv", "no dir",
                                  "empty dir", "bad row", "row matches no input"])
def test_errors_exit_2_with_one_line(tree, case):
    """Clause 6, in a real subprocess: exit 2, one stderr line naming the file, no traceback, nothing on stdout."""
    args, named = {
        "missing file": (["lineage", f"{OUT}/nope.csv", "--row", "tiny,gsm8k"], f"{OUT}/nope.csv: no such file"),
        "no sidecar": (["lineage", RAW], f"{RAW}: no lineage sidecar"),
        "bad sidecar": (["lineage", TABLE1], f"{CHK['greedy']}.lineage.json: not a"),
        "corrupt csv": (["lineage", TABLE1, "--row", "tiny,gsm8k"], f"{TABLE1}: not a readable CSV table"),
        "no dir": (["verify", "nowhere"], "nowhere: no such folder"),
        "empty dir": (["verify", "data/raw"], "data/raw: no .lineage.json sidecar under it"),
        "bad row": (["lineage", TABLE1, "--row", "tiny"], "--row 'tiny': expected model,benchmark[,config]"),
        # Table 1 has no config column: a mistyped config matches the row but none of its inputs,
        # which would audit Table 1 alone and pass
        "row matches no input": (["lineage", TABLE1, "--row", "tiny,gsm8k,sampel"],
                                 f"{TABLE1}: none of its 4 inputs matches tiny,gsm8k,sampel"),
    }[case]
    if case == "row matches no input":  # negative control: the right config name
        assert _cli(tree, "lineage", TABLE1, "--row", "tiny,gsm8k,sample").returncode == 0
    if case in ("bad sidecar", "corrupt csv"):  # negative control: the same command on the untouched tree
        assert _cli(tree, *args).returncode == 0
    if case == "bad sidecar":
        Path(f"{CHK['greedy']}.lineage.json").write_text('{"sha256": "abc", "inputs": {}}')
    if case == "corrupt csv":
        Path(TABLE1).write_bytes(b'model,benchmark\n"tiny,gsm8k\n\xff\xfe,1,2,3\n')
    res = _cli(tree, *args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"goodbadgreedy: error: {named}"), res.stderr
    if case == "corrupt csv":
        assert res.stderr.rstrip().endswith("; it also differs from its lineage record")


def test_same_answer_from_another_folder(tree, tmp_path, capsys, monkeypatch):
    """Clause 7: paths start at the workflow folder found from the artifact, not at the current folder."""
    Path(RAW).unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # outside the tree: its files are shown with absolute paths
    code, out, _ = run_cli(capsys, "verify", str(tree / "results"))
    assert code == 1 and f"MISSING {tree / RAW}\n" in out and out.endswith(summary(N_RESULTS, missing=1) + "\n")
    code, out, _ = run_cli(capsys, "lineage", str(tree / TABLE1))
    assert code == 1 and out.rstrip().endswith(summary(N_TABLE1, missing=1))
    assert audit_mod.workflow_root(tree / TABLE1, TABLE1) == tree
    assert audit_mod.workflow_root(tree / TABLE1, "other/table1.csv") == elsewhere  # no match: the current folder


@pytest.mark.slow
def test_real_smoke_run(smoke, tmp_path):
    """Clauses 1, 2, 4 on the pipeline's own output: a reproduced smoke run verifies (negative
    control); a hand-edited Table 1 cell fails ``lineage --row``; a deleted raw file fails ``verify``."""
    from smoke import copy_clone

    work = copy_clone(smoke[0], tmp_path / "repo").root
    res = _cli(work, "verify")
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.fullmatch(r"\d+ artifacts verified, 0 changed, 0 missing\n", res.stdout), res.stdout
    t1 = work / "results/smoke/table1.csv"
    recorded = sha(t1)
    lines = t1.read_text().splitlines(keepends=True)
    header = lines[0].strip().split(",")
    row = next(i for i, line in enumerate(lines) if line.startswith("smollm2-135m,gsm8k,"))
    cells = lines[row].rstrip("\n").split(",")
    cells[header.index("greedy")] = "93.33"
    lines[row] = ",".join(cells) + "\n"
    t1.write_text("".join(lines))
    res = _cli(work, "lineage", "results/smoke/table1.csv", "--row", "smollm2-135m,gsm8k,greedy")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "greedy=93.33" in res.stdout and "[aggregate] results/smoke/table1.csv  sha256:" in res.stdout
    assert f"current  sha256:{sha(t1)}" in res.stdout
    assert f"recorded sha256:{recorded}  by results/smoke/table1.csv.lineage.json" in res.stdout
    assert re.search(r"\n\d+ artifacts verified, 1 changed, 0 missing\n$", res.stdout)
    raw = work / RAW
    raw_sha = sha(raw)
    raw.unlink()
    res = _cli(work, "verify")
    assert res.returncode == 1
    assert f"MISSING {RAW}\n    current  missing\n    recorded sha256:{raw_sha}  by {BENCH}\n" in res.stdout
    assert re.search(r"\n\d+ artifacts verified, 1 changed, 1 missing\n$", res.stdout)


def test_row_of_a_parquet_table_is_printed(tree, capsys):
    """--row on a parquet artifact prints its matching rows like a CSV's (it was silently ignored)."""
    code, out, _ = run_cli(capsys, "lineage", CHK["sample"], "--row", "tiny,gsm8k")
    assert code == 0 and out.startswith(f"row of {CHK['sample']}:\n")
    assert out.count("  model=tiny, benchmark=gsm8k, config=sample, ") == N_ITEMS * N_SAMPLES
    code, _, err = run_cli(capsys, "lineage", CHK["sample"], "--row", "other,gsm8k")  # control: no such row
    assert code == 2 and "other,gsm8k" in err  # no such row (and no such input)


def test_a_reader_that_leaves_early_gets_no_traceback(tree):
    """`lineage ... | head`: no BrokenPipeError traceback; the status is a SIGPIPE death's (141), not 0.

    The reader (`true`) is gone before the command, which needs a few hundred ms to start, writes.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(f"{sys.executable} -m goodbadgreedy.cli lineage {TABLE1} | true; "
                         "echo status=${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                         cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr
    assert res.stdout == "status=141\n", res.stdout
