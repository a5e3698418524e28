"""Statistics tables of the aggregate stage, one module per table.

The tables are computed from the check and generation tables of every model x benchmark x
decoding config.

* :mod:`.passk`: pass@k, pass^k, G-Pass@k, mG-Pass@k, maj@k (``passk.csv``)
* :mod:`.intervals`: mean score, spread over runs and its intervals (``intervals.csv``)
* :mod:`.paired`: paired tests, greedy vs sampling and model vs model (``paired.csv``)
* :mod:`.variance`: item difficulty vs sampling noise (``variance.csv``)
* :mod:`.ranks`: ranks and pairwise rank flips, greedy vs sampling (``ranks.csv``, ``rank_flips.csv``)
* :mod:`.lengths`: response lengths and their difference to greedy (``lengths.csv``)
* :mod:`.sweep`: the score of every sweep point (``sweep.csv``, its own rule)
* :mod:`.stats_tables`: every table above but the sweep's, keyed as
  :data:`goodbadgreedy.plan.STATS_FILES`
* below them: :mod:`.score_matrix` (check rows as one item x sample matrix per model, benchmark
  and config) and :mod:`.options` (params.yaml's ``stats`` section)

Every table function takes long polars tables (``tables.CHECK_SCHEMA`` /
``tables.GENERATION_SCHEMA`` rows, or the score matrices made from them) and returns a long
polars table with an explicit column list (the module's ``*_COLUMNS`` constant); the math lives
in :mod:`goodbadgreedy.stats` and is only called here. Scores are fractions in [0, 1] (not
percent), lengths are generated tokens. Import from the module that defines a name: this
package re-exports nothing.

Conventions
-----------
* A config's samples of one item are ``sample_idx = 0..K-1``; run ``r`` is sample ``r`` of every
  item (Song et al. 2024, arXiv:2407.10457, Sec. 2). Greedy decoding has ``K = 1``.
* "Correct" (for pass@k, pass^k, G-Pass@k, McNemar) is ``score == 1``; the benchmarks' scores
  are 0/1, so this loses nothing there.
* Standard deviations over runs use ddof = :data:`~goodbadgreedy.stats.runs.STD_DDOF` (1).
* Every resampling draws from ``numpy.random.default_rng`` seeded with params ``seed`` (the same
  seed for every comparison: common random numbers, each row reproducible on its own).
"""
