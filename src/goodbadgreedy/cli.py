"""Command line: ``goodbadgreedy lineage RESULT [--row model,benchmark[,config]]``."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from goodbadgreedy.errors import GoodBadGreedyError
from goodbadgreedy.lineage import format_trace, trace


def _lineage(args: argparse.Namespace) -> int:
    select = None
    if args.row:
        parts = args.row.split(",")
        if len(parts) not in (2, 3):
            raise GoodBadGreedyError(f"--row {args.row!r}: expected model,benchmark[,config]")
        keys = ["model", "benchmark", "config"][: len(parts)]
        select = dict(zip(keys, parts, strict=True))
        if args.result.endswith(".csv"):
            table = pl.read_csv(args.result)
            cond = [pl.col(k) == v for k, v in select.items() if k in table.columns]
            rows = table.filter(pl.all_horizontal(cond)) if cond else table
            if rows.height == 0:
                raise GoodBadGreedyError(f"{args.result}: no row with {select}")
            print(f"row of {args.result}:")
            for rec in rows.iter_rows(named=True):
                print("  " + ", ".join(f"{k}={v}" for k, v in rec.items()))
            print()
    print(format_trace(trace(args.result, select=select)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``goodbadgreedy`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="goodbadgreedy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lin = sub.add_parser("lineage", help="print the chain from a result back to raw data")
    lin.add_argument("result", help="an artifact with a .lineage.json sidecar, e.g. results/default/table1.csv")
    lin.add_argument("--row", help="model,benchmark[,config]: follow only that row's inputs")
    lin.set_defaults(func=_lineage)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GoodBadGreedyError as exc:
        print(f"goodbadgreedy: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
