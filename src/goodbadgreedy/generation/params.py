"""Decoding parameters (no torch import: config validation uses them before any job)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from goodbadgreedy.errors import ConfigError


@dataclass(frozen=True)
class SamplingParams:
    """Decoding parameters of one config.

    Attributes:
        do_sample: False for greedy decoding (argmax), True for sampling.
        temperature: softmax temperature (> 0 when sampling; 0 means greedy).
        top_p: nucleus sampling mass in (0, 1] (Holtzman et al. 2020); 1 disables it.
        top_k: keep the k most likely tokens; 0 disables it.
        repetition_penalty: > 0; 1 disables it. Divides positive and multiplies negative logits
            of tokens already in the sequence, prompt included (Keskar et al. 2019, CTRL, Sec.
            4.1; the same rule as transformers' ``RepetitionPenaltyLogitsProcessor``).
        max_new_tokens: the most tokens generated per sample (>= 1).

    Raises:
        ConfigError: a value is out of range; the message names the parameter.
    """

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        checks = [
            ("temperature", self.temperature >= 0 and math.isfinite(self.temperature), ">= 0"),
            ("top_p", 0 < self.top_p <= 1, "in (0, 1]"),
            ("top_k", isinstance(self.top_k, int) and not isinstance(self.top_k, bool) and self.top_k >= 0,
             "an integer >= 0"),
            ("repetition_penalty", self.repetition_penalty > 0 and math.isfinite(self.repetition_penalty), "> 0"),
            ("max_new_tokens", self.max_new_tokens >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"decoding parameter {name}={getattr(self, name)!r} must be {rule}")

    @property
    def greedy(self) -> bool:
        """True when tokens are chosen by argmax (no sampling, or temperature 0)."""
        return not self.do_sample or self.temperature == 0
