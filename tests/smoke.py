"""A committed smoke-profile copy of the working tree reproduced with ``dvc repro`` (shared by
tests/test_dvc.py and tests/test_pipeline.py through the ``smoke`` fixture of conftest.py).

The copy holds the tracked files and the untracked ones git does not ignore, committed to a fresh
git repository so that lineage sidecars see a clean tree, with ``profile: smoke`` in params.yaml
(dvc.yaml is the hand-written one; its outs follow the profile). To stay within minutes on two
cores it reuses, where this checkout has them, the converted model (hard links to
``models/<model>``, when made by the same code: the prepare_model stage then finds it current)
and the sample cache (a copy kept in pytest's cache folder, seeded from ``cache/generations``).
Every stage runs for real, through DVC.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from goodbadgreedy.stages import code_fingerprints

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DVC = BIN / "dvc"


def _run(args, cwd, env, timeout=1800) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{out[-6000:]}")
    return out


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


class Clone:
    """A committed copy of the working tree with profile smoke, and the commands to drive it."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env

    def run(self, *args: str) -> str:
        return _run(list(args), self.root, self.env)

    def dvc(self, *args: str) -> str:
        return self.run(str(DVC), *args)

    def stages(self) -> dict[str, dict]:
        return yaml.safe_load((self.root / "dvc.yaml").read_text())["stages"]


def _copy_tree(dest: Path, skip: tuple[str, ...]) -> None:
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if not src.is_file() or src.is_symlink() or any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def _copy_missing(src: str, dest: str) -> None:
    if not os.path.exists(dest):
        shutil.copy2(src, dest)


def _link_tree(src: Path, dest: Path) -> None:
    try:
        shutil.copytree(src, dest, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)


def build_smoke(tmp_path_factory, request):
    """A clean smoke-profile copy after its first ``dvc repro``: (clone, repro output)."""
    root = tmp_path_factory.mktemp("dvc") / "repo"
    root.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cache_dir = params["generation"]["cache_dir"]
    _copy_tree(root, skip=(cache_dir, "dvc.lock", "dvc-storage", "models"))
    text = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(re.sub(r"(?m)^profile: .*$", "profile: smoke", text, count=1))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(root / "src"),
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    clone = Clone(root, env)
    clone.run("git", "init", "-q")
    if not (root / ".dvc" / "config").is_file():
        clone.dvc("init", "-q", "-f")
    (root / ".git" / "info" / "exclude").write_text(f"/{cache_dir.strip('/')}/\n")
    clone.run("git", "add", "-A")
    clone.run("git", "-c", "commit.gpgsign=false", "commit", "-qm", "smoke")
    # the sample cache: a persistent copy, so that only a first test run generates
    try:
        samples = request.config.cache.mkdir("goodbadgreedy-dvc-samples")
    except AttributeError:  # -p no:cacheprovider
        samples = tmp_path_factory.mktemp("samples")
    if (REPO / cache_dir).is_dir():
        shutil.copytree(REPO / cache_dir, samples, dirs_exist_ok=True, copy_function=_copy_missing)
    (root / cache_dir).parent.mkdir(parents=True, exist_ok=True)
    (root / cache_dir).symlink_to(samples, target_is_directory=True)
    # the converted models, where this checkout has them made by the same code (the copy has no
    # Snakemake record of them: goodbadgreedy.provenance would stop on one made by other code)
    code = code_fingerprints(root / "dvc.yaml")["prepare_model"]
    for manifest in (REPO / "models").glob("*/manifest.json"):
        try:
            made_by = json.loads(Path(f"{manifest}.lineage.json").read_text())["params"]["code"]
        except (OSError, ValueError, KeyError):
            continue
        if made_by == code:
            _link_tree(manifest.parent, root / "models" / manifest.parent.name)
    return clone, clone.dvc("repro")


def copy_clone(clone: Clone, dest: Path) -> Clone:
    """A full copy of a reproduced clone (git, DVC cache and state, results, Snakemake metadata),
    for tests that edit params.yaml and re-run without disturbing the shared one."""
    shutil.copytree(
        clone.root, dest, symlinks=True, ignore=lambda d, names: ["models"] if Path(d) == clone.root else []
    )
    _link_tree(clone.root / "models", dest / "models")  # ~0.5 GB of weights, never written in place
    return Clone(dest, {**clone.env, "PYTHONPATH": str(dest / "src")})


