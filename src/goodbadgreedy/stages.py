"""The pipeline's stages as ``dvc.yaml`` declares them, read by the Snakefile.

``dvc.yaml`` is written by hand (DVC's example-get-started style): one stage per pipeline stage,
whose ``cmd`` runs that stage's Snakemake rules (``--allowed-rules``) and whose ``deps`` list the
code it runs (``scripts/...``, ``src/goodbadgreedy/...``, files or folders). DVC re-runs a stage
when one of those files changes; Snakemake, inside the stage, decides per job. Snakemake's own
``code`` trigger sees only a rule's script, not the library modules the script imports, so on its
own it would leave every job of a stage as it was after a library edit, and DVC would then record
the new code beside the old outputs: a stale answer in silence.

So each rule passes a ``code`` param: the fingerprint (sha256) of every file its stage's ``deps``
name under ``scripts/`` and ``src/``. Snakemake's ``params`` trigger then re-runs the rule's jobs
when that code changes, whether the user runs ``dvc repro`` or ``snakemake`` directly, and both
tools read the same declaration. A library edit re-runs the stages that list it (e.g. editing
``stats/`` re-runs the aggregate stage's jobs, no generation); ``tests/test_stages.py`` checks that
each stage's code deps cover every module its scripts import.

This module is read at every Snakemake start (a no-op ``snakemake -n`` included): it imports
nothing heavy, parses ``dvc.yaml`` with libyaml and hashes ~70 small files (a few ms).
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import yaml

from goodbadgreedy.errors import ConfigError

#: The deps that are code: files or folders under these top-level folders.
CODE_ROOTS = ("scripts", "src")


@dataclass(frozen=True)
class Stage:
    """One stage of ``dvc.yaml``.

    Attributes:
        name: the stage's key in ``dvc.yaml``.
        rules: the Snakemake rules its ``cmd`` allows (``--allowed-rules``), target rule included.
        code: its deps under :data:`CODE_ROOTS`, as written (files or folders, repo-relative).
    """

    name: str
    rules: tuple[str, ...]
    code: tuple[str, ...]


def allowed_rules(cmd: str) -> tuple[str, ...]:
    """The rule names after ``--allowed-rules`` in a stage's command, up to the next option or ``--``.

    Raises:
        ConfigError: the command has no ``--allowed-rules`` or names no rule after it.
    """
    argv = shlex.split(cmd)
    if "--allowed-rules" not in argv:
        raise ConfigError(f"dvc.yaml: cmd {cmd!r}: no --allowed-rules (which Snakemake rules the stage runs)")
    rules = []
    for arg in argv[argv.index("--allowed-rules") + 1 :]:
        if arg.startswith("-"):
            break
        rules.append(arg)
    if not rules:
        raise ConfigError(f"dvc.yaml: cmd {cmd!r}: --allowed-rules names no rule")
    return tuple(rules)


def read_stages(path: str | Path = "dvc.yaml") -> dict[str, Stage]:
    """Parse ``dvc.yaml`` into :class:`Stage` objects, by stage name.

    A command's ``${name}`` is replaced by the value of ``name`` in the file's own ``vars``
    mappings (DVC's templating); references to params.yaml stay as written.

    Raises:
        ConfigError: the file cannot be read or parsed, a stage has no ``cmd``, or one rule is
            allowed by two stages (its outputs would belong to both).
    """
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the DVC pipeline: {exc}") from exc
    local = {k: v for entry in (doc or {}).get("vars", []) if isinstance(entry, Mapping) for k, v in entry.items()}
    stages: dict[str, Stage] = {}
    owner: dict[str, str] = {}
    for name, spec in (doc or {}).get("stages", {}).items():
        if not isinstance(spec, Mapping) or "cmd" not in spec:
            raise ConfigError(f"{path}: stages.{name}: no cmd")
        cmd = str(spec["cmd"])
        for key, value in local.items():  # dvc.yaml's own `vars` (params.yaml's stay as written)
            cmd = cmd.replace("${" + key + "}", str(value))
        rules = allowed_rules(cmd)
        for rule in rules:
            if rule in owner:
                raise ConfigError(f"{path}: rule {rule} is allowed by stages {owner[rule]} and {name}")
            owner[rule] = name
        code = tuple(d for d in spec.get("deps", []) if str(d).split("/")[0] in CODE_ROOTS)
        stages[name] = Stage(name, rules, code)
    return stages


def _files(root: Path, entry: str) -> Iterator[Path]:
    path = root / entry
    if path.is_file():
        yield path
    elif path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                yield f
    else:
        raise ConfigError(f"dvc.yaml: dep {entry} does not exist")


def code_fingerprints(path: str | Path = "dvc.yaml") -> dict[str, str]:
    """``{rule: sha256}`` of the code each rule's stage lists in ``dvc.yaml``.

    The digest covers each file's repo-relative path and bytes, files in sorted order; a folder
    dep stands for every file under it (``__pycache__`` left out).

    Args:
        path: ``dvc.yaml``; paths in it are relative to its folder.

    Raises:
        ConfigError: see :func:`read_stages`; a code dep does not exist.
    """
    root = Path(path).parent
    digests: dict[Path, bytes] = {}
    out: dict[str, str] = {}
    for stage in read_stages(path).values():
        h = hashlib.sha256()
        files = sorted({f for entry in stage.code for f in _files(root, entry)})
        for f in files:
            if f not in digests:
                digests[f] = hashlib.sha256(f.read_bytes()).digest()
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + digests[f])
        for rule in stage.rules:
            out[rule] = h.hexdigest()
    return out


class RuleCode(dict):
    """:func:`code_fingerprints` as a mapping whose missing key names the fix."""

    def __missing__(self, rule: str) -> str:
        raise ConfigError(f"rule {rule} runs in no stage of dvc.yaml: add it to a stage's --allowed-rules")


__all__ = ["CODE_ROOTS", "RuleCode", "Stage", "allowed_rules", "code_fingerprints", "read_stages"]
