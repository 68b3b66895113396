"""A JAX port of tinybt, checked against tinybt's golden files (see README.md).

Importing the package turns on float64 (the goldens are float64; JAX defaults to float32)
and registers every port function in PORT (golden case name -> function).
"""

import jax

jax.config.update("jax_enable_x64", True)

from . import layers, losses, models, optim, sequence  # noqa: E402,F401  (registers)
from .registry import PORT  # noqa: E402,F401
