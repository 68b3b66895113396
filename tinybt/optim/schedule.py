"""Learning rate: linear warm-up, then cosine decay to min_lr.

    step < W:        lr = base · (step + 1) / W        (the first update already moves; step W−1 is base)
    W ≤ step ≤ T:    lr = min + (base − min) · ½ (1 + cos(π (step − W) / (T − W)))
    step > T:        lr = min

step counts optimiser updates from 0; T = total_steps, W = warmup_steps.
"""

import math


def warmup_cosine(step, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if not 0 <= warmup_steps <= total_steps or total_steps < 1 or step < 0:
        raise ValueError(f"warmup_cosine: need 0 <= warmup_steps <= total_steps, total_steps >= 1, step >= 0; "
                         f"got step={step}, total_steps={total_steps}, warmup_steps={warmup_steps}")
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if warmup_steps == total_steps:
        return min_lr
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
