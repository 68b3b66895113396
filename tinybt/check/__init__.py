"""Checks of the maths: float64 gradient checks (gradcheck.py), golden files for framework
ports (golden.py) and the small cases both run (cases/)."""
