"""The judge section's defaults, stated once, and a run's judge settings (no heavy import).

:func:`goodbadgreedy.judge.client.judge_config` merges params.yaml's ``judge`` over them and
:func:`goodbadgreedy.params_file.load_schema` writes them as the schema's ``judge`` defaults.
:func:`run_judge` is the judge of one run: the ``judge`` section with the active profile's
``judge`` block (:data:`PROFILE_KEYS`) over it; the check jobs of judge-based benchmarks get it as
their ``judge`` param (rules/common.smk).
"""

from __future__ import annotations

from typing import Any, Mapping

#: The ``judge`` section's keys and their defaults.
DEFAULTS: dict[str, Any] = {
    "base_url": "http://127.0.0.1:8011/v1",
    "model": "models/smollm2-135m/hf",
    "api_key_env": None,
    "max_tokens": 512,
    "seed": 0,
    "concurrency": 1,
    "max_retries": 3,
    "timeout_s": 600,
    "cache_dir": "cache/judgements",
}

#: The ``judge`` keys a profile may set (``profiles.<name>.judge``): those that size a run, the
#: judge's output budget (tokens per judgement: most of a small local judge's time) and the
#: requests in flight. The rest (server, model, seed, cache) is the judge's identity.
PROFILE_KEYS: tuple[str, ...] = ("max_tokens", "concurrency")


def run_judge(params: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The judge settings of a run: params.yaml's ``judge`` with the profile's ``judge`` over it.

    Args:
        params: validated params (:func:`goodbadgreedy.params_file.validate_params`: the ``judge``
            section has its defaults).
        profile: the profile's name; default: ``params["profile"]``, the active one.

    Returns:
        A new dict, the ``judge`` section's keys; ``max_tokens`` and ``concurrency`` from
        ``profiles.<profile>.judge`` where that block sets them.

    Raises:
        KeyError: ``profile`` is not a key of ``params["profiles"]`` (validation rules that out
            for the active profile).
    """
    name = params["profile"] if profile is None else profile
    override = params["profiles"][name].get("judge") or {}
    return {**dict(params.get("judge") or {}), **{k: override[k] for k in PROFILE_KEYS if k in override}}
