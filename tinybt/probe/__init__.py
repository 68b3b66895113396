"""Linear probes of frozen user vectors (SPEC §4).

logreg.py        multinomial logistic regression + L2, hand-written gradient, L-BFGS
linear_probe.py  one task: label fractions × seeds, L2 chosen on val, accuracy on test
bag_of_items.py  the bag-of-items reference features
report.py        results.json / results.md tables
"""

from tinybt.probe.bag_of_items import bag_of_items
from tinybt.probe.linear_probe import L2_GRID, LABEL_FRACTIONS, probe
from tinybt.probe.logreg import fit_logreg, predict
from tinybt.probe.report import format_markdown, write_results

__all__ = ["bag_of_items", "probe", "L2_GRID", "LABEL_FRACTIONS", "fit_logreg", "predict",
           "format_markdown", "write_results"]
