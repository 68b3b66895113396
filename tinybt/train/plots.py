"""The end-of-run diagnostics report of a run folder (tinybt.train.diagnostics measures them).

    diagnostics.json          the last epoch's diagnostics, the full per-dimension std vector
                              of the user vectors and the sampled cross-correlation block
    diagnostics_curves.png    loss and every diagnostic per epoch       (needs matplotlib)
    cross_correlation.png     heatmap of C on ≤ 64 projector dimensions (needs matplotlib; BT only)
"""

import json
from pathlib import Path

from tinybt.atomic import atomic_open, write_text

REPORT, CURVES, HEATMAP = "diagnostics.json", "diagnostics_curves.png", "cross_correlation.png"
PANELS = (("loss", "training loss"), ("eff_rank", "effective rank (val users)"),
          (("std_min", "std_median", "std_max"), "per-dim std (val users)"),
          ("align", "alignment of the two views"), ("uniform", "uniformity"),
          (("bt_on", "bt_off"), "normalised BT terms (val users)"))


def write_diagnostics(path, metrics, final):
    """Write the report files of run folder `path`; -> the paths written."""
    path = Path(path)
    last = {k: v for k, v in metrics[-1].items() if k in _keys()}
    report = last | {"epoch": metrics[-1]["epoch"], "std": [float(s) for s in final["std"]],
                     "cross_correlation_sample": None if final["C"] is None else final["C"].round(4).tolist()}
    write_text(path / REPORT, json.dumps(report, indent=1) + "\n")
    written = [path / REPORT]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    written.append(_curves(plt, metrics, path / CURVES))
    if final["C"] is not None:
        written.append(_heatmap(plt, final["C"], path / HEATMAP))
    return written


def _keys():
    return {k for keys, _ in PANELS[1:] for k in ((keys,) if isinstance(keys, str) else keys)}


def _curves(plt, metrics, out):
    panels = [(k, t) for k, t in PANELS if any(x in metrics[-1] for x in ((k,) if isinstance(k, str) else k))]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False)
    epochs = [r["epoch"] for r in metrics]
    for ax, (keys, title) in zip(axes[0], panels):
        for k in (keys,) if isinstance(keys, str) else keys:
            ax.plot(epochs, [r.get(k, float("nan")) for r in metrics], marker=".", label=k)
        ax.set(title=title, xlabel="epoch")
        if not isinstance(keys, str):
            ax.legend(fontsize=7)
    return _save(plt, fig, out)


def _heatmap(plt, C, out):
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(C, vmin=-1, vmax=1, cmap="RdBu_r")
    fig.colorbar(im, ax=ax)
    ax.set(title=f"cross-correlation C, {len(C)} sampled dims", xlabel="view 2 dim", ylabel="view 1 dim")
    return _save(plt, fig, out)


def _save(plt, fig, out):
    fig.tight_layout()
    with atomic_open(out) as f:
        fig.savefig(f, dpi=100, format="png")
    plt.close(fig)
    return out

