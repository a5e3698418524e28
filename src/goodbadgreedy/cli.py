"""Command line: audit a result against its lineage.

``goodbadgreedy lineage FILE [--row model,benchmark[,config]]`` prints the chain of artifacts
behind FILE (or one row of it) down to the raw data and checks every file in it;
``goodbadgreedy verify [DIR]`` checks every artifact under DIR (default ``results``) and all it
was computed from. Both exit 0 when every file matches its records, 1 when a file changed or is
missing, 2 on a usage or project error (missing FILE, no sidecar, unreadable table or sidecar).
"""

from __future__ import annotations

import argparse
import os
import sys

import polars as pl

from goodbadgreedy.audit import Auditor, display, format_problems, format_trace, trace, verify_folder
from goodbadgreedy.errors import DataError, GoodBadGreedyError

#: Exit statuses of both commands.
EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
#: Exit status when stdout's reader left early (``| head``), as a shell reports death by SIGPIPE:
#: the output was cut, so the status says nothing of the verdict.
EXIT_BROKEN_PIPE = 128 + 13

_CHECKS = """\
checks: {what} against the sha256 its own sidecar (.lineage.json) recorded, then every input the
sidecar lists against that record, recursively through each input's sidecar down to the vendored
raw files (data/raw/...); each file is hashed once. A file whose sha256 differs from a record is
CHANGED, one that is gone MISSING: each is printed with its current sha256 and every differing
record (sha256 and the artifact that recorded it).

exit status: 0 every file matches, 1 something changed or is missing, 2 usage or project error
({errors}, unreadable table or sidecar)."""


def _select(row: str) -> dict[str, str]:
    parts = row.split(",")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise GoodBadGreedyError(f"--row {row!r}: expected model,benchmark[,config]")
    keys = ["model", "benchmark", "config"][: len(parts)]
    return dict(zip(keys, (p.strip() for p in parts), strict=True))


def _rows(path: str, select: dict[str, str]) -> pl.DataFrame:
    """The rows of table ``path`` (CSV or parquet) matching ``select`` on the columns it has.

    Raises:
        DataError: the file is no readable table (naming it); GoodBadGreedyError: no row matches.
    """
    try:
        table = pl.read_parquet(path) if path.endswith(".parquet") else pl.read_csv(path)
        cond = [pl.col(k).cast(pl.String) == v for k, v in select.items() if k in table.columns]
        rows = table.filter(pl.all_horizontal(cond)) if cond else table
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "parquet" if path.endswith(".parquet") else "CSV"
        raise DataError(f"{path}: not a readable {kind} table ({first})") from exc
    if rows.height == 0:
        raise GoodBadGreedyError(f"{path}: no row with {select}")
    return rows


def _lineage(args: argparse.Namespace) -> int:
    select = _select(args.row) if args.row else None
    audit = Auditor()
    nodes = trace(args.result, select=select, audit=audit)
    if select and args.result.endswith((".csv", ".parquet")):
        try:
            rows = _rows(args.result, select)
        except DataError as exc:
            if nodes[0]["status"] == "ok":
                raise
            raise DataError(f"{exc}; it also differs from its lineage record") from exc
        print(f"row of {args.result}:")
        for rec in rows.iter_rows(named=True):
            print("  " + ", ".join(f"{k}={v}" for k, v in rec.items()))
        if nodes[0]["status"] != "ok":
            print(f"  !! {display(args.result)} differs from its lineage record: "
                  "this is not the row the pipeline wrote")
        print()
    print(format_trace(nodes))
    summary = audit.summary()
    print()
    print(summary.line())
    return EXIT_OK if summary.ok else EXIT_MISMATCH


def _verify(args: argparse.Namespace) -> int:
    audit = verify_folder(args.dir)
    problems = format_problems(audit)
    if problems:
        print(problems)
    summary = audit.summary()
    print(summary.line())
    return EXIT_OK if summary.ok else EXIT_MISMATCH


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``goodbadgreedy`` command; returns the exit status (0 ok, 1 mismatch, 2 error)."""
    parser = argparse.ArgumentParser(
        prog="goodbadgreedy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lin = sub.add_parser(
        "lineage",
        help="print and verify the chain from a result back to raw data",
        description="Print the artifacts behind FILE (params, sha256), down to the raw data, "
        "verifying each one, then a summary line 'N artifacts verified, M changed, K missing'.",
        epilog=_CHECKS.format(what="FILE", errors="missing FILE, FILE without sidecar"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lin.add_argument("result", metavar="FILE",
                     help="an artifact with a .lineage.json sidecar, e.g. results/default/table1.csv")
    lin.add_argument("--row", help="model,benchmark[,config]: print that row (of a CSV or parquet table) and "
                     "follow only its inputs")
    lin.set_defaults(func=_lineage)
    ver = sub.add_parser(
        "verify",
        help="verify every artifact under DIR and everything it was computed from",
        description="Verify every artifact under DIR that has a .lineage.json sidecar (a sidecar whose "
        "artifact is gone counts it missing) and every input recorded, recursively. Prints each problem, "
        "then 'N artifacts verified, M changed, K missing': N counts distinct files checked, inputs "
        "outside DIR (data/, models/) included; M and K the files changed and missing among them.",
        epilog=_CHECKS.format(what="each artifact", errors="no such DIR, no sidecar under it"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ver.add_argument("dir", metavar="DIR", nargs="?", default="results",
                     help="folder to search for .lineage.json sidecars (default: results)")
    ver.set_defaults(func=_verify)
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, not at exit, so that a reader gone early lands in the handler below
        return status
    except GoodBadGreedyError as exc:
        print(f"goodbadgreedy: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `goodbadgreedy lineage ... | head`: the reader left before the verdict
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
