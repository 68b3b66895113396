"""tinybt: Barlow Twins self-supervised learning for user sequences, by hand in NumPy/Numba."""

__version__ = "0.1.0"
