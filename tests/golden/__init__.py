"""Golden Solidity per backend (see test_solidity_golden.py)."""
