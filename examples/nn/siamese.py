"""A siamese network with two outputs, on synthetic data; runs in a few seconds on one core.

Points in 8 dimensions are drawn around 6 class centres, with noise that makes the classes overlap. The model
sees a pair of points (a, b) and answers two questions: are a and b of the same class (output ``same``), and
which class is a (output ``kind``)? Both points go through one tower, a shared ``Sequential`` holding one set
of weights, so the pair is compared in a space the tower learns; the two losses are weighted, and each output
is logged on its own (``same_loss``, ``same_accuracy``, ``kind_accuracy``...).

    python examples/nn/siamese.py
"""

from __future__ import annotations

import tempfile

import numpy as np

from sudoless import nn


def pairs(count: int, centres: np.ndarray, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``count`` pairs, half of them of one class; targets: same (0/1) and the first point's class."""
    classes = len(centres)
    first = rng.integers(0, classes, count)
    same = rng.random(count) < 0.5
    second = np.where(same, first, (first + rng.integers(1, classes, count)) % classes)
    noise = 1.0

    def points(labels: np.ndarray) -> np.ndarray:
        return centres[labels] + noise * rng.standard_normal((count, centres.shape[1]))

    return [points(first), points(second)], [same.astype(np.int64), first]


def build(features: int, classes: int) -> nn.Model:
    tower = nn.Sequential([nn.Dense(32), nn.ReLU(), nn.Dense(16)], name="tower")
    a, b = nn.Input((features,)), nn.Input((features,))
    left, right = tower(a), tower(b)  # one layer object called twice: shared weights
    joined = nn.ReLU()(nn.Dense(32)(nn.Concatenate()([left, right])))
    same = nn.Dense(2, name="same")(joined)
    kind = nn.Dense(classes, name="kind")(nn.ReLU()(left))
    return nn.Model([a, b], [same, kind], seed=0)


def main() -> None:
    rng = np.random.default_rng(0)
    centres = 1.5 * rng.standard_normal((6, 8))
    x, y = pairs(4000, centres, rng)
    x_val, y_val = pairs(1000, centres, rng)
    model = build(8, 6)
    model.compile(nn.Adam(3e-3), "softmax_cross_entropy", metrics=["accuracy"], loss_weights={"same": 1.0, "kind": 0.5})
    history = model.fit(x, y, epochs=10, batch_size=64, validation_data=(x_val, y_val), verbose=0)
    for key in ("loss", "same_accuracy", "kind_accuracy", "val_same_accuracy", "val_kind_accuracy"):
        print(f"{key:<20} {history[key][-1]:.3f}")
    same, kind = model.predict([x_val[0][:6], x_val[1][:6]], activate=True)
    print("P(same), first six validation pairs:", np.round(same[:, 1], 2), "truth:", y_val[0][:6])
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        again = nn.load_model(folder)
        print("reloaded model scores:", {k: round(v, 3) for k, v in again.evaluate(x_val, y_val).items()})


if __name__ == "__main__":
    main()
