"""The training history as a PNG: loss and each metric per epoch, training next to validation."""

from __future__ import annotations

from pathlib import Path

from sudoless.nn.callbacks import History


def plot_history(history: History | dict[str, list[float]], path: str | Path, title: str = "") -> Path:
    """Draw one panel per quantity (``loss``, ``accuracy`` ...), with the ``val_`` series beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = history.history if isinstance(history, History) else history
    names = [k for k in series if not k.startswith("val_") and k != "lr"]
    names += [k[4:] for k in series if k.startswith("val_") and k[4:] not in names]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names, strict=False):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in series:
                values = series[key]
                axis.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=label)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
