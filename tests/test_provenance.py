"""goodbadgreedy.provenance: outputs DVC put back behind Snakemake's back.

Policy (the module docstring, clause by clause):

1. An output whose Snakemake record holds its sidecar's params and input checksums is Snakemake's
   to decide: never reported, stale or not; a record of another run (other params, or another
   checksum of an input) does not describe it.
2. Any other output with a sidecar (restored, copied in, no record) whose job is in the run is
   reported when its job's params now differ from the sidecar's or an input's sha256 now differs
   from the sidecar's (a missing input counts); a current one is not. Outputs without sidecar or
   artifact, and jobs no longer in the run, are left alone.
3. An output of the run is also reported when its sidecar lists a reported output as input, to a
   fixed point.

The report names each output, its rule and what changed, and the command that fixes it. The slow
test in tests/test_dvc.py reproduces the case end to end through DVC.
"""

from __future__ import annotations

import hashlib
import json
import os
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from goodbadgreedy.errors import ConfigError
from goodbadgreedy.provenance import RestoredStale, check_restored, describes, plain, restored_stale, snakemake_record

NOW = {"code": "abc", "decoding": {"temperature": 0.7, "top_p": 1.0}, "n_samples": 3}
OLD = {"code": "abc", "decoding": {"temperature": 1.0, "top_p": 1.0}, "n_samples": 3}
ITEMS = "results/p/items/b.parquet"
GEN = "results/p/generations/m/b/sample.parquet"
CHECK = "results/p/checks/m/b/sample.parquet"


def _sha(root: Path, rel: str) -> str:
    return hashlib.sha256((root / rel).read_bytes()).hexdigest()


def _output(root: Path, rel: str, made_with: dict, inputs=(), *, rule="generate", cfg="sample",
            record: str | None = None, content=b"table") -> None:
    """An artifact and its sidecar; ``record``: None (no Snakemake record), "describes" (the record
    of the run that made it: its params and input checksums) or "other" (a record of a later run
    with the params now, as after dvc checkout)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    side = {"stage": rule, "wildcards": {"model": "m", "benchmark": "b", "cfg": cfg}, "params": plain(made_with),
            "inputs": {i: _sha(root, i) for i in inputs}}
    (root / f"{rel}.lineage.json").write_text(json.dumps(side))
    if record is not None:
        ran_with = made_with if record == "describes" else _now(rule, side["wildcards"])
        meta = root / ".snakemake" / "metadata" / urlsafe_b64encode(rel.encode()).decode()
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"rule": rule, "params": sorted(repr(v) for v in ran_with.values()),
                                    "input_checksums": {i: f"sha256:{s}" for i, s in side["inputs"].items()}}))


def _now(rule, wildcards):
    if wildcards.get("cfg") != "sample":
        return None
    return NOW if rule == "generate" else {"code": "abc"}


def _items(root: Path) -> None:
    (root / ITEMS).parent.mkdir(parents=True, exist_ok=True)
    (root / ITEMS).write_bytes(b"items")


def test_restored_output_with_other_params_is_reported(tmp_path):
    _items(tmp_path)
    _output(tmp_path, GEN, OLD, [ITEMS], record="other")  # 1.0 file back, record of a later 0.7 run
    (stale,) = restored_stale(tmp_path, ["results/p"], _now)
    assert (stale.output, stale.rule, stale.changed) == (GEN, "generate", ("decoding",))


def test_described_outputs_are_left_to_snakemake(tmp_path):
    _items(tmp_path)
    _output(tmp_path, GEN, OLD, [ITEMS], record="describes")  # an ordinary edit: Snakemake re-runs it
    assert restored_stale(tmp_path, ["results/p"], _now) == []


@pytest.mark.parametrize("record", [None, "other"])
def test_undescribed_current_output_is_not_reported(tmp_path, record):
    _items(tmp_path)
    _output(tmp_path, GEN, NOW, [ITEMS], record=record)
    assert restored_stale(tmp_path, ["results/p"], _now) == []


def test_changed_or_missing_input_is_reported(tmp_path):
    _items(tmp_path)
    _output(tmp_path, GEN, NOW, [ITEMS])
    (tmp_path / ITEMS).write_bytes(b"other items")
    assert restored_stale(tmp_path, ["results/p"], _now)[0].changed == (f"input {ITEMS}",)
    (tmp_path / ITEMS).unlink()
    assert restored_stale(tmp_path, ["results/p"], _now)[0].changed == (f"input {ITEMS}",)


def test_undescribed_downstream_of_a_stale_output_is_reported(tmp_path):
    """Clause 3: the check table restored beside a stale generation table matches its inputs
    today, but not once the generation table is re-made."""
    _items(tmp_path)
    _output(tmp_path, GEN, OLD, [ITEMS], record="other")
    _output(tmp_path, CHECK, {"code": "abc"}, [ITEMS, GEN], rule="check", record="other")
    got = {s.output: s.changed for s in restored_stale(tmp_path, ["results/p"], _now)}
    assert got == {GEN: ("decoding",), CHECK: (f"input {GEN}",)}
    # the generation table current: its check table is left to Snakemake
    _output(tmp_path, GEN, NOW, [ITEMS], record="describes")
    _output(tmp_path, CHECK, {"code": "abc"}, [ITEMS, GEN], rule="check", record="describes")
    assert restored_stale(tmp_path, ["results/p"], _now) == []


def test_outputs_outside_the_run_or_without_sidecar_are_left_alone(tmp_path):
    _items(tmp_path)
    _output(tmp_path, "results/p/generations/m/b/greedy.parquet", OLD, [ITEMS], cfg="greedy")  # not in the run
    (tmp_path / "results/p/plain.csv").write_text("x\n")
    (tmp_path / "results/p/orphan.csv.lineage.json").write_text(json.dumps({"stage": "generate"}))
    (tmp_path / "results/p/broken.csv").write_text("x\n")
    (tmp_path / "results/p/broken.csv.lineage.json").write_text("{not json")
    assert restored_stale(tmp_path, ["results/p", "results/missing"], _now) == []


def test_changed_lists_every_differing_param(tmp_path):
    _output(tmp_path, GEN, {**OLD, "n_samples": 2, "gone": 1})
    assert restored_stale(tmp_path, ["results/p"], _now)[0].changed == ("decoding", "gone", "n_samples")


def test_snakemake_record_is_read_where_snakemake_writes_it(tmp_path):
    assert snakemake_record(tmp_path, GEN) is None
    _output(tmp_path, GEN, NOW, record="describes")
    name = urlsafe_b64encode(GEN.encode()).decode()
    assert os.listdir(tmp_path / ".snakemake" / "metadata") == [name]
    assert snakemake_record(tmp_path, GEN)["rule"] == "generate"
    assert plain({"a": (1, 2), "b": {"c": None}}) == {"a": [1, 2], "b": {"c": None}}


def test_describes_compares_params_and_input_checksums():
    side = {"params": {"n": 3, "d": {"t": 0.7}}, "inputs": {"a": "11", "b": "22"}}
    same = {"params": sorted([repr(3), repr({"t": 0.7})]), "input_checksums": {"a": "sha256:11"}}
    assert describes(same, side)
    assert not describes(None, side)
    assert not describes({**same, "params": sorted([repr(3), repr({"t": 1.0})])}, side)
    assert not describes({**same, "input_checksums": {"a": "sha256:99"}}, side)
    assert describes({**same, "input_checksums": {"elsewhere": "sha256:99"}}, side)  # not an input of the file
    # Snakemake leaves out params computed from the output (the sidecar has them): still this run
    assert describes({**same, "params": [repr(3)]}, side)


def test_check_restored_names_outputs_and_the_fix():
    check_restored([])  # nothing stale: no error
    with pytest.raises(ConfigError) as err:
        check_restored([RestoredStale(GEN, "generate", ("decoding",)),
                        RestoredStale(CHECK, "check", (f"input {GEN}",))])
    msg = str(err.value)
    assert GEN in msg and "rule generate" in msg and "decoding" in msg and f"input {GEN}" in msg
    assert f"rm {GEN} {CHECK}\n" in msg and "dvc repro" in msg
