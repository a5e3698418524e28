"""Reading the pipeline's tables: one checked reader, ``goodbadgreedy.tables.read_table``.

Reader policy (``goodbadgreedy.tables.read_table``, through which stages read their tables):

R1. a missing file, a truncated parquet file and a CSV that does not parse each give a
    ``DataError`` that names the file, what is wrong, and how to rebuild it (``snakemake --cores 2
    --force <file> [--config profile=<p>]``, the job named where the lineage sidecar names its stage);
R2. a file whose sha256 differs from the one its lineage sidecar recorded (edited after
    publication, still a valid table) gives "changed since <stage> wrote it"; a file without a
    sidecar skips this check; a sidecar that is no lineage record is named;
R3. a missing required column (of ``columns``, or of the kind's schema) or a column of the wrong
    dtype gives an error naming the column;
R4. an intact file reads back equal to what was written (negative control for R1-R3);
R5. every script in ``scripts/`` and the report and Best-of-N readers read tables only through it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from frames import generations

from goodbadgreedy import io
from goodbadgreedy.errors import DataError
from goodbadgreedy.lineage import publish_table, write_lineage
from goodbadgreedy.tables import read_table, read_tables

REPO = Path(__file__).resolve().parents[1]




@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A generation table published by the pipeline's own writer (validated, with sidecars)."""
    root = tmp_path_factory.mktemp("published")
    out = root / "results" / "smoke" / "generations" / "m" / "gsm8k" / "greedy.parquet"
    publish_table(generations(), out, kind="generation", stage="generate", inputs=[], expected_rows=3)
    return out


@pytest.fixture
def table(published, tmp_path) -> Path:
    """A private copy of the published table and its lineage sidecar (same relative layout)."""
    dest = tmp_path / published.name
    dest.write_bytes(published.read_bytes())
    io.sidecar(dest, "lineage").write_bytes(io.sidecar(published, "lineage").read_bytes())
    return dest


def _rebuild_hint(path: Path, stage: str) -> str:
    profile = f" --config profile={path.parts[path.parts.index('results') + 1]}" if "results" in path.parts else ""
    return f"rebuild it ({stage} job) with: snakemake --cores 2 --force {path}{profile}, then rerun your command"


def test_intact_table_reads_back_equal(published, table):
    """R4 (negative control): the published table, through the same checks, reads back equal;
    ``columns`` reads those columns only."""
    assert read_table(published, "generation").equals(generations())
    assert read_table(table, "generation").equals(generations())
    assert read_table(table, "generation", ["item_id", "response_tokens"]).equals(
        generations().select("item_id", "response_tokens"))
    assert read_tables([table, published], "generation").height == 6


def test_truncated_parquet_names_the_file_and_the_rebuild_command(table):
    """R1: the bytes of a published table cut in half."""
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        read_table(table, "generation")
    message = str(info.value)
    assert message.startswith(f"{table}: not a readable parquet file (truncated or corrupt: ")
    assert _rebuild_hint(table, "generate") in message


def test_missing_file_names_the_file_and_the_rebuild_command(table):
    """R1: the file is gone (its sidecar still names the stage)."""
    table.unlink()
    with pytest.raises(DataError, match=re.escape(f"{table}: no such file; rebuild it (")) as info:
        read_table(table)
    assert _rebuild_hint(table, "generate") in str(info.value)


@pytest.mark.parametrize("garbage", [bytes(range(256)) * 4, b"model,score\nm,1\nm,1,2,3\n", b'a,b\n"1,2\n'])
@pytest.mark.parametrize("with_sidecar", [True, False])
def test_garbage_csv_names_the_file_and_the_rebuild_command(garbage, with_sidecar, tmp_path):
    """R1: a CSV that does not parse (binary bytes, a ragged row, an open quote), whether the
    pipeline wrote it (sidecar: the stage's rerun is named) or not (the hint says so)."""
    path = tmp_path / "stats" / "intervals.csv"
    io.write_csv(pl.DataFrame({"model": ["m"], "score": [0.5]}), path)
    if with_sidecar:
        write_lineage(path, stage="stats", inputs=[])
    assert read_table(path).height == 1  # control: intact
    path.write_bytes(garbage)
    with pytest.raises(DataError) as info:
        read_table(path, infer_schema_length=None)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable CSV file (truncated or corrupt: ")
    if with_sidecar:
        assert _rebuild_hint(path, "stats") in message
    else:
        assert f"rebuild it with: snakemake --cores 2 --force {path}" in message and "no lineage sidecar" in message


def test_table_edited_after_publication_is_named_changed(table):
    """R2: valid parquet with other bytes (one response edited) than the stage wrote; a CSV cut in
    half (still parseable) likewise."""
    io.write_parquet(generations().with_columns(pl.lit("edited").alias("response")), table)
    assert pl.read_parquet(table).height == 3  # a readable table: only the hash tells
    with pytest.raises(DataError) as info:
        read_table(table, "generation")
    message = str(info.value)
    assert message.startswith(f"{table}: changed since generate wrote it (sha256 ")
    assert _rebuild_hint(table, "generate") in message

    csv = table.with_suffix(".csv")
    io.write_csv(generations().drop("logprobs", "processed_logprobs"), csv)  # CSV holds no list columns
    write_lineage(csv, stage="aggregate", inputs=[])
    data = csv.read_bytes()
    csv.write_bytes(data[: len(data) // 2])
    assert pl.read_csv(csv).height >= 1
    with pytest.raises(DataError, match=re.escape(f"{csv}: changed since aggregate wrote it")):
        read_table(csv)


def test_file_without_sidecar_skips_the_hash_and_a_bad_sidecar_is_named(table):
    """R2: no sidecar (vendored or user file): an edited table reads; a sidecar that is not a
    lineage record is named."""
    side = io.sidecar(table, "lineage")
    edited = generations().with_columns(pl.lit("edited").alias("response"))
    io.write_parquet(edited, table)
    side.unlink()
    assert read_table(table, "generation").equals(edited)
    side.write_text("{not json")
    with pytest.raises(DataError, match=re.escape(f"{side}: not a lineage record of {table}: not JSON")):
        read_table(table)
    side.write_text(json.dumps({"stage": "generate"}))
    with pytest.raises(DataError, match=re.escape(f"{side}: not a lineage record of {table}: no 'sha256'")):
        read_table(table)


@pytest.mark.parametrize("case", ["kind schema", "requested columns", "dtype"])
def test_missing_or_mistyped_column_is_named(case, tmp_path):
    """R3: a column of the kind's schema missing, a requested column missing, a column of the
    wrong dtype -- each named (the sidecar matches: the file is as its stage wrote it)."""
    path = tmp_path / "greedy.parquet"
    df = generations()
    if case == "kind schema":
        df = df.drop("finish_reason")
    elif case == "dtype":
        df = df.with_columns(pl.col("response_tokens").cast(pl.Float64))
    io.write_parquet(df, path)
    write_lineage(path, stage="generate", inputs=[])
    with pytest.raises(DataError) as info:
        if case == "requested columns":
            read_table(path, None, ["item_id", "n_tokens"])
        else:
            read_table(path, "generation")
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert {"kind schema": "generation table lacks column(s) ['finish_reason']",
            "requested columns": "table lacks column(s) ['n_tokens']",
            "dtype": "'response_tokens' is Float64, expected Int32"}[case] in message
    assert _rebuild_hint(path, "generate") in message
    # control: the columns that are there read
    assert read_table(path, None, ["item_id"]).height == 3


def test_reader_arguments_are_checked(table):
    with pytest.raises(ValueError, match="unknown table kind 'checks'"):
        read_table(table, "checks")
    with pytest.raises(ValueError, match="CSV files only"):
        read_table(table, infer_schema_length=None)
    with pytest.raises(ValueError, match="no paths"):
        read_tables([])
    with pytest.raises(DataError, match=re.escape(f"{table.with_suffix('.json')}: not a table file")):
        read_table(table.with_suffix(".json"))


_RAW_READS = re.compile(r"\b(?:pl|polars)\.(?:read|scan)_(?:parquet|csv|ipc|ndjson)\(")


def raw_reads(source: str) -> list[str]:
    """The polars read/scan calls in ``source`` (which should go through ``read_table``)."""
    return [m.group(0) for m in _RAW_READS.finditer(source)]


def test_stages_read_tables_only_through_read_table():
    """R5: no script, nor the report or the Best-of-N reader, calls polars' readers itself; the
    check flags a raw read (negative control)."""
    files = [*sorted((REPO / "scripts").glob("*.py")), REPO / "src/goodbadgreedy/html_report.py",
             REPO / "src/goodbadgreedy/reranking/best_of_n_table.py"]
    bad = {f.relative_to(REPO).as_posix(): raw_reads(f.read_text()) for f in files}
    assert not {k: v for k, v in bad.items() if v}
    assert raw_reads("checks = pl.concat([pl.read_parquet(p) for p in sm.input.checks])") == ["pl.read_parquet("]


@pytest.mark.slow
def test_truncated_generation_in_a_real_run_names_the_file_and_the_advice_works(smoke, tmp_path):
    """R1 end to end, in a copy of the reproduced smoke workflow: a generation table cut in half
    makes its check job fail with the DataError (in the job's log) naming the file and the rebuild
    command; the failed job leaves neither its output nor a sidecar of it; following the advice
    (the printed snakemake command, then the user's own) rebuilds the same bytes and the check succeeds."""
    import subprocess
    import sys

    from smoke import copy_clone

    clone = copy_clone(smoke[0], tmp_path / "repo")
    root = clone.root
    gen = "results/smoke/generations/smollm2-135m/gsm8k/greedy.parquet"
    target = "results/smoke/checks/smollm2-135m/gsm8k/greedy.parquet"
    original = (root / gen).read_bytes()
    assert json.loads((root / f"{gen}.lineage.json").read_text())["stage"] == "generate"
    (root / gen).write_bytes(original[: len(original) // 2])

    def snakemake(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=root, env=clone.env,
                              capture_output=True, text=True, timeout=900)

    res = snakemake("--force", target)
    assert res.returncode != 0
    log = (root / "logs/smoke/check/smollm2-135m/gsm8k/greedy.log").read_text()
    assert f"DataError: {gen}: not a readable parquet file (truncated or corrupt: " in log, log[-3000:]
    advice = f"rebuild it (generate job) with: snakemake --cores 2 --force {gen} --config profile=smoke, then rerun"
    assert advice in log
    assert not [p.name for p in (root / target).parent.iterdir() if p.name.startswith("greedy.parquet")]

    res = snakemake("--force", gen, "--config", "profile=smoke")  # the advice, word for word
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert (root / gen).read_bytes() == original  # rebuilt byte for byte (seeded, from the sample cache)
    res = snakemake(target)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert (root / gen).read_bytes() == original  # rebuilt byte for byte (seeded, from the sample cache)
    assert read_table(root / target, "check").height >= 1
    assert io.sidecar(root / target, "lineage").is_file() and io.sidecar(root / target, "validation").is_file()
