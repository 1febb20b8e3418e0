"""Functional graphs with several outputs and with shared layers: gradients, training, logs, save and load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn.support import TOLERANCE
from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.gradcheck import numerical_gradient, relative_error

SEEDS = [0, 1, 2]


def whole_model_error(model: nn.Network, x: object, y: object) -> float:
    """Relative error of d(total loss)/d(flat parameters) for a compiled float64 model."""
    loss = model.loss
    assert loss is not None and model.flat_params is not None and model.flat_grads is not None

    def value() -> float:
        return loss.forward(model.forward(x), y, model.output_mask)  # type: ignore[arg-type]

    value()
    model.backward(loss.backward())
    return relative_error(model.flat_grads.copy(), numerical_gradient(value, model.flat_params))


def two_heads(features: int, units: int, seed: int) -> nn.Model:
    """One trunk, a 3-class head and a regression head; the trunk output is also an input of the second head."""
    x = nn.Input((features,))
    trunk = nn.Tanh(name="trunk")(nn.Dense(units)(x))
    kind = nn.Dense(3, name="kind")(trunk)
    size = nn.Dense(2, name="size")(nn.Concatenate()([trunk, kind]))
    return nn.Model(x, [kind, size], seed=seed, dtype="float64")


def siamese(features: int, units: int, seed: int) -> tuple[nn.Model, nn.Sequential]:
    """One tower (a nested Sequential) applied to two inputs, then a shared Dense applied twice in a row."""
    tower = nn.Sequential([nn.Dense(units), nn.Tanh(), nn.Dense(units)], name="tower")
    a, b = nn.Input((features,)), nn.Input((features,))
    joined = nn.Concatenate()([tower(a), tower(b)])
    square = nn.Dense(2 * units, name="square")
    twice = square(nn.Tanh()(square(joined)))
    return nn.Model([a, b], nn.Dense(2, name="same")(twice), seed=seed, dtype="float64"), tower


@pytest.mark.parametrize("seed", SEEDS)
def test_two_outputs_with_weighted_losses_gradients(seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch, features, units = 4 + seed, 3 + seed, 5
    model = two_heads(features, units, seed)
    model.compile("sgd", ["softmax_cross_entropy", "mse"], loss_weights=[0.3, 2.5])
    model.build((features,))
    model.flat_params += 0.1 * rng.standard_normal(model.flat_params.shape)
    x = rng.standard_normal((batch, features))
    y = [rng.integers(0, 3, batch), rng.standard_normal((batch, 2))]
    assert whole_model_error(model, x, y) <= TOLERANCE


@pytest.mark.parametrize("seed", SEEDS)
def test_shared_layers_gradients(seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch, features, units = 3 + seed, 2 + seed, 4
    model, tower = siamese(features, units, seed)
    model.compile("sgd", "softmax_cross_entropy")
    model.build([(features,), (features,)])
    model.flat_params += 0.1 * rng.standard_normal(model.flat_params.shape)
    x = [rng.standard_normal((batch, features)), rng.standard_normal((batch, features))]
    assert whole_model_error(model, x, rng.integers(0, 2, batch)) <= TOLERANCE
    # one set of weights per shared layer, however often it is called
    names = list(model.get_weights())
    assert sum(name.startswith("tower/") for name in names) == 4
    assert sum(name.startswith("square/") for name in names) == 2


def test_shared_layer_gradient_is_the_sum_over_its_calls() -> None:
    """With a shared Dense, d/dW equals the sum of the gradients of two separate Dense layers holding W."""
    rng = np.random.default_rng(5)
    x = [rng.standard_normal((6, 3)), rng.standard_normal((6, 3))]
    y = rng.standard_normal((6, 4))
    shared = nn.Dense(2, name="shared")
    a, b = nn.Input((3,)), nn.Input((3,))
    tied = nn.Model([a, b], nn.Concatenate()([shared(a), shared(b)]), seed=1, dtype="float64")
    left, right = nn.Dense(2, name="left"), nn.Dense(2, name="right")
    a, b = nn.Input((3,)), nn.Input((3,))
    split = nn.Model([a, b], nn.Concatenate()([left(a), right(b)]), seed=1, dtype="float64")
    for model in (tied, split):
        model.compile("sgd", "mse")
        model.build([(3,), (3,)])
    weights = tied.get_weights()
    split.set_weights({f"{side}/{key}": weights[f"shared/{key}"] for side in ("left", "right") for key in ("W", "b")})
    for model in (tied, split):
        model.loss.forward(model.forward(x), y)  # type: ignore[union-attr]
        model.backward(model.loss.backward())  # type: ignore[union-attr]
    for key in ("W", "b"):
        np.testing.assert_allclose(shared.grads[key], left.grads[key] + right.grads[key], rtol=1e-13)


def test_multi_output_training_logs_and_predictions() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 6))
    kind = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    size = x[:, 2:4] * 2.0
    model = two_heads(6, 16, 0)
    model.compile(
        nn.Adam(0.02),
        {"kind": "softmax_cross_entropy", "size": "mse"},
        metrics={"kind": ["accuracy"], "size": ["mae"]},
        loss_weights={"kind": 1.0, "size": 0.5},
    )
    history = model.fit(
        x,
        {"kind": kind, "size": size},
        epochs=30,
        batch_size=32,
        verbose=0,
        validation_data=(x[:64], [kind[:64], size[:64]]),
    )
    assert set(history.history) == {
        "loss",
        "kind_loss",
        "size_loss",
        "kind_accuracy",
        "size_mae",
        "lr",
        "val_loss",
        "val_kind_loss",
        "val_size_loss",
        "val_kind_accuracy",
        "val_size_mae",
    }
    final = history.final()
    assert final["kind_accuracy"] > 0.9 and final["size_mae"] < 0.5, final
    scores = model.evaluate(x, [kind, size])
    assert scores["loss"] == pytest.approx(scores["kind_loss"] + 0.5 * scores["size_loss"], rel=1e-9)
    predictions = model.predict(x[:10])
    assert isinstance(predictions, list) and [p.shape for p in predictions] == [(10, 3), (10, 2)]
    probabilities = model.predict(x[:10], activate=True)
    np.testing.assert_allclose(probabilities[0].sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(probabilities[1], predictions[1])


def test_one_loss_for_every_output_and_an_output_without_loss() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4))
    model = two_heads(4, 8, 1)
    model.compile("sgd", "mse", metrics=["mae"])
    history = model.fit(x, [rng.standard_normal((32, 3)), rng.standard_normal((32, 2))], epochs=1, verbose=0)
    assert {"kind_loss", "size_loss", "kind_mae", "size_mae"} <= set(history.history)
    model.compile("sgd", [None, "mse"])
    history = model.fit(x, [np.zeros((32, 3)), rng.standard_normal((32, 2))], epochs=1, verbose=0)
    assert "kind_loss" not in history.history
    assert history["loss"] == history["size_loss"]


def test_multi_output_and_shared_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = [rng.standard_normal((20, 3)), rng.standard_normal((20, 3))]
    model, _ = siamese(3, 4, 2)
    model.compile(nn.Adam(1e-2), "softmax_cross_entropy", ["accuracy"])
    y = rng.integers(0, 2, 20)
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    model.save(tmp_path / "siamese")
    loaded = nn.load_model(tmp_path / "siamese")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    model.fit(x, y, epochs=1, batch_size=5, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=5, verbose=0, shuffle=False)
    np.testing.assert_array_equal(loaded.flat_params, model.flat_params)

    heads = two_heads(3, 4, 3)
    heads.compile(nn.SGD(0.1), ["softmax_cross_entropy", "mse"], metrics=[["accuracy"], []], loss_weights=[1.0, 0.25])
    targets = [rng.integers(0, 3, 20), rng.standard_normal((20, 2))]
    heads.fit(x[0], targets, epochs=1, verbose=0)
    heads.save(tmp_path / "heads")
    again = nn.load_model(tmp_path / "heads")
    for got, expected in zip(again.predict(x[0]), heads.predict(x[0]), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert again.evaluate(x[0], targets) == heads.evaluate(x[0], targets)


def test_graph_user_errors() -> None:
    model = two_heads(3, 4, 0)
    with pytest.raises(InputError, match="2 outputs"):
        model.compile("sgd", ["mse"])
    with pytest.raises(InputError, match="unknown output 'nope'"):
        model.compile("sgd", {"nope": "mse"})
    model.compile("sgd", "mse")
    with pytest.raises(InputError, match="2 outputs"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 3)), verbose=0)
    single = nn.Sequential([nn.Dense(2)])
    with pytest.raises(InputError, match="loss_weights"):
        single.compile("sgd", "mse", loss_weights=[2.0])
    dense = nn.Dense(3)
    a, b = nn.Input((3,)), nn.Input((5,))
    with pytest.raises(InputError, match="shared"):
        nn.Model([a, b], nn.Concatenate()([dense(a), dense(b)])).build([(3,), (5,)])


def test_the_siamese_example_runs_and_learns() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "nn" / "siamese.py"
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    scores = dict(line.split() for line in result.stdout.splitlines() if line.startswith("val_"))
    assert float(scores["val_same_accuracy"]) > 0.8 and float(scores["val_kind_accuracy"]) > 0.8, result.stdout


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_shared_recurrent_encoder_with_masks_gradients(kind: str) -> None:
    """A siamese sequence encoder: one Embedding (mask_zero) and one recurrent layer on two padded inputs."""
    rng = np.random.default_rng(7)
    embed, encoder = nn.Embedding(6, 3, mask_zero=True), getattr(nn, kind)(4)
    a, b = nn.Input((5,)), nn.Input((5,))
    joined = nn.Concatenate()([encoder(embed(a)), encoder(embed(b))])
    model = nn.Model([a, b], nn.Dense(2)(joined), seed=3, dtype="float64")
    model.compile("sgd", "softmax_cross_entropy")
    model.build([(5,), (5,)])
    model.flat_params += 0.1 * rng.standard_normal(model.flat_params.shape)
    ids = [rng.integers(1, 6, (3, 5)), rng.integers(1, 6, (3, 5))]
    ids[0][0, 3:] = 0
    ids[1][1, :2] = 0
    assert whole_model_error(model, ids, rng.integers(0, 2, 3)) <= TOLERANCE
