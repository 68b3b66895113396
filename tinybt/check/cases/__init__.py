"""Gradient-check / golden cases. Importing this package registers them all.

One module per family; each function `@case("name")` builds a small float64
Case from an rng. See tinybt/check/gradcheck.py for the Case contract.
"""

import importlib
import pkgutil

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")
