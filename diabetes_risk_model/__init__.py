"""Diabetes risk model: train, sign, package, store, load, verify, predict.

Importing this package has no side effects: no I/O, no logging setup, no
environment reads.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
