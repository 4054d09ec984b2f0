"""What every backend shares: naming and hashing, number conversion, the Solidity writer,
the memory planner, the contract shell (entry points, classify, result) and op dispatch.

A backend (ours or a plugin) builds on these and on ``ml2sc.ir``; it never imports
another backend or the compiler driver.
"""
