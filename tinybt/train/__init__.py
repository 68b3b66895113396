"""Training: config, run folder, checkpoints and the epoch loop (see trainer.py)."""
