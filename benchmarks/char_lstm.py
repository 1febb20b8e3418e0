"""The full character-level LSTM training on Shakespeare's plays, against validation loss <= 1.6 nats/char.

Trains examples/nn/shakespeare.yaml (or ``--config``) through the same code path as ``sudoless nn train``,
with BLAS on ``--threads`` threads (default 1), and evaluates the held-out plays (Hamlet, The Tempest, Julius
Caesar, Henry V) every ``--eval-every`` steps on a fixed subset of ``--eval-windows`` validation windows, and
on all of them at the end of each epoch. Writes the curve, the final figures and a text sample to
``benchmarks/results/char_lstm.json``; the run directory (model, history.png) goes to ``--output``.

This is a benchmark, not a test: it takes tens of minutes on one core.

    .venv/bin/python benchmarks/char_lstm.py [--epochs 4] [--output /tmp/char-lstm] [--eval-every 250]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "char_lstm.json"
TARGET = 1.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE.parent / "examples" / "nn" / "shakespeare.yaml")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--output", type=Path, default=Path("/tmp/sudoless-char-lstm"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--eval-windows", type=int, default=1024)
    args = parser.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np

    from sudoless.nn.callbacks import Callback
    from sudoless.nn.runs import load_config, train_run

    config = load_config(args.config)
    curve: list[dict[str, Any]] = []
    started = time.perf_counter()

    class Probe(Callback):
        """Validation loss on a fixed subset every few hundred steps, printed and recorded."""

        def on_train_begin(self, logs: dict[str, Any]) -> None:
            from sudoless.nn.runs import load_data

            data = load_data(config["data"], seed=int(config.get("seed", 0)))
            pick = np.random.default_rng(0).permutation(len(data.y_val))[: args.eval_windows]
            self.x, self.y = data.x_val[pick], data.y_val[pick]
            self.steps = 0

        def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
            self.steps += 1
            if self.steps % args.eval_every == 0:
                val = self.model.evaluate(self.x, self.y)["loss"]
                point = {
                    "step": self.steps,
                    "train_loss": logs["loss"],
                    "val_loss_subset": val,
                    "seconds": round(time.perf_counter() - started, 1),
                }
                curve.append(point)
                print(json.dumps(point), flush=True)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            point = {
                "epoch": epoch + 1,
                "step": self.steps,
                **{k: float(v) for k, v in logs.items()},
                "seconds": round(time.perf_counter() - started, 1),
            }
            curve.append(point)
            print(json.dumps(point), flush=True)

    result = train_run(config, output=args.output, epochs=args.epochs, verbose=0, callbacks=(Probe(),))
    val = result.metrics.get("val_loss")
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": str(args.config),
        "threads": args.threads,
        "load_average_end": os.getloadavg(),
        "target_val_loss": TARGET,
        "final_val_loss": val,
        "meets_target": val is not None and val <= TARGET,
        "best_val_loss": min((p.get("val_loss", np.inf) for p in curve), default=None),
        "epochs": result.epochs,
        "parameters": result.parameters,
        "seconds": round(result.seconds, 1),
        "metrics": result.metrics,
        "curve": curve,
        "sample": result.sample,
        "output": str(result.output),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2))
    print(
        f"final validation loss {val:.4f} nats/char (target <= {TARGET}); {result.seconds / 60:.1f} min; "
        f"wrote {RESULTS.relative_to(HERE.parent)}",
        file=sys.stderr,
    )
    print(result.sample or "", file=sys.stderr)


if __name__ == "__main__":
    main()
