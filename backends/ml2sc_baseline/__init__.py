"""The ml2sc-baseline backend: contracts in ML2SC's style, so the benchmark can measure the baseline."""

from ml2sc.backends.ml2sc_baseline.backend import Ml2scBaselineBackend

__all__ = ["Ml2scBaselineBackend"]
