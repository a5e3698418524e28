"""The options of the statistics tables: params.yaml's ``stats`` section plus the global ``seed``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class StatsOptions:
    """The ``stats`` section of params.yaml plus the global ``seed``.

    Attributes:
        seed: seeds every bootstrap / sign-flip draw (non-negative int).
        n_boot: bootstrap replicates (>= 2).
        confidence: two-sided level of every interval, in (0, 1).
        taus: G-Pass@k thresholds, each in [0, 1].
        wilson_max_items: single-sample (greedy) scores of at most this many items get the Wilson
            interval as their reported interval; larger ones the cluster bootstrap.
    """

    seed: int = 0
    n_boot: int = 2000
    confidence: float = 0.95
    taus: tuple[float, ...] = (0.5, 0.75, 1.0)
    wilson_max_items: int = 500

    @classmethod
    def from_params(cls, stats: Mapping[str, Any], seed: int) -> "StatsOptions":
        """Build from params.yaml's ``stats`` mapping (missing keys take the defaults) and ``seed``."""
        kw = {k: stats[k] for k in ("n_boot", "confidence", "wilson_max_items") if k in stats}
        if "taus" in stats:
            kw["taus"] = tuple(float(t) for t in stats["taus"])
        return cls(seed=int(seed), **kw)
