"""Training: the epoch loop (trainer.py), its diagnostics and plots, user vectors (embed.py)."""
