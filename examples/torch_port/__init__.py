"""A PyTorch port of tinybt, checked against tinybt's golden files (see README.md).

Importing the package registers every port function in PORT (golden case name -> function).
"""

from . import layers, losses, models, optim, sequence  # noqa: F401  (registers)
from .registry import PORT  # noqa: F401
