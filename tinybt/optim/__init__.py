"""Optimisation: Adam/AdamW (adam.py), the learning-rate schedule (schedule.py), gradient clipping (clip.py)."""

from tinybt.optim.adam import Adam, AdamW
from tinybt.optim.clip import clip_grad_norm
from tinybt.optim.schedule import warmup_cosine

__all__ = ["Adam", "AdamW", "clip_grad_norm", "warmup_cosine"]
