"""The judge section's defaults, stated once (no heavy import).

:func:`goodbadgreedy.judge.client.judge_config` merges params.yaml's ``judge`` over them and
:func:`goodbadgreedy.params_file.load_schema` writes them as the schema's ``judge`` defaults.
"""

from __future__ import annotations

from typing import Any

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
