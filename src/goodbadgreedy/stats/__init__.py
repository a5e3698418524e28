"""Estimators and tests on score matrices: pass@k and kin, Best-of-N, intervals, paired tests, variance."""
