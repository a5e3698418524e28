"""The ``vllm`` backend with real vLLM on a CUDA GPU (skipped without vLLM or CUDA).

The CPU-runnable tests of its parameter mapping and orchestration are in ``test_backends.py``;
``perf/gpu_check.sh`` compares its greedy outputs with the ``hf`` backend on the smoke
profile.
"""

from __future__ import annotations

import pytest

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("the vllm backend needs a CUDA GPU", allow_module_level=True)

from servers import prepare_smollm2  # noqa: E402

from goodbadgreedy.generation.params import SamplingParams  # noqa: E402
from goodbadgreedy.generation.vllm_backend import VLLMBackend  # noqa: E402
from goodbadgreedy.prompts import Prompt  # noqa: E402

pytestmark = pytest.mark.slow

QUESTION = Prompt(messages=({"role": "user", "content": "What is the capital of France?"},))


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    folder = prepare_smollm2(tmp_path_factory.mktemp("vllm") / "smollm2-hf")
    return VLLMBackend(str(folder), dtype="bfloat16", model_sha="test", gpu_memory_utilization=0.3)


def test_greedy_answers_and_is_repeatable(backend):
    ids = backend.prepare(QUESTION).payload
    out = backend.generate([ids, ids], [[None], [None]], SamplingParams(max_new_tokens=16), progress=False)
    a, b = out[0][0], out[1][0]
    assert "Paris" in a.text and a.text == b.text
    assert 1 <= a.n_tokens <= 16 and a.finish_reason in ("eos", "length")


def test_seeded_samples_do_not_depend_on_n(backend):
    ids = backend.prepare(QUESTION).payload
    params = SamplingParams(do_sample=True, temperature=1.0, max_new_tokens=12)
    two = backend.generate([ids], [[1, 2]], params, progress=False)[0]
    four = backend.generate([ids], [[1, 2, 3, 4]], params, progress=False)[0]
    assert [s.text for s in two] == [s.text for s in four[:2]]
    assert len({s.text for s in four}) > 1


def test_stop_strings_cut_the_text(backend):
    ids = backend.prepare(QUESTION).payload
    full = backend.generate([ids], [[None]], SamplingParams(max_new_tokens=16), progress=False)[0][0].text
    word = full.split()[1]
    cut = backend.generate([ids], [[None]], SamplingParams(max_new_tokens=16), stop=[word], progress=False)[0][0]
    assert cut.finish_reason == "stop" and word not in cut.text and full.startswith(cut.text)
