"""Evaluation of frozen user vectors (docs/protocol.md).

logreg.py        multinomial logistic regression + L2, hand-written gradient, L-BFGS
folds.py         the tuning and report pools, stratified folds
linear_probe.py  one task: cross-validated probes over label fractions × label seeds
memo.py          each probe's output kept by content under $TINYBT_HOME/probes/: never fitted twice
retrieval.py     next-item Recall@10 / NDCG@10
stats.py         bootstrap intervals, paired differences, "ahead"
bag_of_items.py  the bag-of-items reference features
report.py        results.json / results.md tables
"""

from tinybt.probe.bag_of_items import bag_of_items
from tinybt.probe.linear_probe import FOLDS, L2_GRID, LABEL_FRACTIONS, probe
from tinybt.probe.logreg import fit_logreg, predict

__all__ = ["bag_of_items", "probe", "FOLDS", "L2_GRID", "LABEL_FRACTIONS", "fit_logreg", "predict"]
