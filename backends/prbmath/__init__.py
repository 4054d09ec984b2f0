"""The prbmath backend: SD59x18 fixed point (PRBMath's number format and exp algorithm)."""

from ml2sc.backends.prbmath.backend import PrbMathBackend

__all__ = ["PrbMathBackend"]
