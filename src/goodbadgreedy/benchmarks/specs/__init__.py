"""One tiny module per benchmark holding its ``SPEC`` (:class:`~goodbadgreedy.benchmarks.spec.BenchmarkSpec`).

They import nothing heavy (no polars, no numpy): the registry reads them at every Snakefile start.
"""
