"""Write dvc.yaml from the Snakemake DAG of the current params.yaml (see goodbadgreedy.dvcgen).

    python scripts/make_dvc_yaml.py           # (re)write dvc.yaml
    python scripts/make_dvc_yaml.py --check   # exit 1 with a diff if dvc.yaml is stale
"""

import argparse
import difflib
import sys
from pathlib import Path

from goodbadgreedy.dvcgen import render

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--output", default=str(ROOT / "dvc.yaml"), help="default: dvc.yaml at the repository root")
    args = parser.parse_args(argv)
    text = render(ROOT)
    out = Path(args.output)
    if args.check:
        old = out.read_text() if out.is_file() else ""
        if old == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(out), "generated"))
        print(f"{out} is stale: run python scripts/make_dvc_yaml.py", file=sys.stderr)
        return 1
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
