"""goodbadgreedy: evaluate LLMs under decoding non-determinism.

Reproduces and extends Song et al. (2024), "The Good, The Bad, and The Greedy: Evaluation of
LLMs Should Not Ignore Non-Determinism", arXiv:2407.10457.
"""

__version__ = "0.1.0"
