"""Every layer and loss against centred finite differences in float64 (relative error <= 1e-6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nn.support import TOLERANCE, build64
from sudoless import nn
from sudoless.nn.gradcheck import check_layer, check_loss, numerical_gradient, relative_error

SEEDS = [0, 1, 2]


def shapes(seed: int) -> tuple[int, int, int, int]:
    """Random (batch, time, features, units) for one parametrised case."""
    rng = np.random.default_rng(100 + seed)
    return tuple(int(v) for v in (rng.integers(1, 5), rng.integers(2, 7), rng.integers(1, 6), rng.integers(1, 7)))


def away_from_kinks(x: np.ndarray) -> np.ndarray:
    """Move inputs at least 0.05 from 0 so x ± h never straddles the ReLU kink."""
    return x + np.where(x >= 0, 0.05, -0.05)


FEATURE_LAYERS: dict[str, Callable[[int], nn.Layer]] = {
    "Dense": lambda units: nn.Dense(units),
    "Dense-no-bias": lambda units: nn.Dense(units, use_bias=False),
    "Sigmoid": lambda units: nn.Sigmoid(),
    "Tanh": lambda units: nn.Tanh(),
    "ReLU": lambda units: nn.ReLU(),
    "LeakyReLU": lambda units: nn.LeakyReLU(0.2),
    "GELU": lambda units: nn.GELU(),
    "Softmax": lambda units: nn.Softmax(),
    "LayerNorm": lambda units: nn.LayerNorm(),
}


def assert_close(errors: dict[str, float]) -> None:
    assert errors, "nothing was checked"
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] <= TOLERANCE, f"{worst}: relative error {errors[worst]:.2e} ({errors})"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(FEATURE_LAYERS))
@pytest.mark.parametrize("rank", [2, 3])
def test_feature_layers(name: str, seed: int, rank: int) -> None:
    batch, time, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    shape = (batch, features) if rank == 2 else (batch, time, features)
    x = away_from_kinks(rng.standard_normal(shape))
    layer = build64(FEATURE_LAYERS[name](units), shape[1:], seed)
    assert_close(check_layer(layer, x, seed=seed))


def test_softmax_backward_is_the_true_jacobian() -> None:
    """ds_i/dz_j = s_i (δ_ij - s_j); in particular ds_1/dz_1 = s_1 (1 - s_1), not 2 s_1."""
    z = np.array([[0.3, -1.2, 2.0, 0.1]])
    layer = build64(nn.Softmax(), (4,))
    s = layer.forward(z)[0]
    jacobian = np.stack([layer.backward(np.eye(4)[i][None])[0] for i in range(4)])
    np.testing.assert_allclose(jacobian, np.diag(s) - np.outer(s, s), atol=1e-15)
    assert jacobian[0, 0] == pytest.approx(s[0] * (1 - s[0]))


RECURRENT = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def random_mask(batch: int, time: int, rng: np.random.Generator) -> np.ndarray:
    """Right-padded, left-padded and full rows mixed; every row keeps at least one real step."""
    mask = np.ones((batch, time), bool)
    for row in range(batch):
        kept = int(rng.integers(1, time + 1))
        if row % 2:
            mask[row, kept:] = False
        else:
            mask[row, : time - kept] = False
    return mask


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_recurrent_layers(kind: str, sequences: bool, masked: bool, seed: int) -> None:
    batch, time, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, time, features))
    mask = random_mask(batch, time, rng) if masked else None
    layer = build64(RECURRENT[kind](units, return_sequences=sequences), (time, features), seed)
    assert_close(check_layer(layer, x, mask=mask, seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_reversed_recurrence(kind: str, seed: int) -> None:
    batch, time, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, time, features))
    layer = build64(RECURRENT[kind](units, return_sequences=True, reverse=True), (time, features), seed)
    assert_close(check_layer(layer, x, mask=random_mask(batch, time, rng), seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_bidirectional(kind: str, merge: str, seed: int) -> None:
    batch, time, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, time, features))
    sequences = seed % 2 == 0
    layer = build64(
        nn.Bidirectional(RECURRENT[kind](units, return_sequences=sequences), merge_mode=merge), (time, features), seed
    )
    assert_close(check_layer(layer, x, mask=random_mask(batch, time, rng), seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
def test_stacked_bidirectional_recurrences_with_mask(seed: int) -> None:
    """LSTM -> bidirectional GRU -> RNN as one nested Sequential block, the way layers are stacked."""
    batch, time, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    block = nn.Sequential(
        [nn.LSTM(units, return_sequences=True), nn.Bidirectional(nn.GRU(units, return_sequences=True)), nn.RNN(units)],
        dtype="float64",
    )
    block.input_grad = True
    build64(block, (time, features), seed)
    x = rng.standard_normal((batch, time, features))
    assert_close(check_layer(block, x, mask=random_mask(batch, time, rng), seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_with_repeated_ids(seed: int) -> None:
    batch, time, _, units = shapes(seed)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 4, (batch, time))  # a vocabulary of 4 guarantees repeats
    layer = build64(nn.Embedding(4, units), (time,), seed)
    assert_close(check_layer(layer, ids, seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_in_training(seed: int) -> None:
    batch, time, features, _ = shapes(seed)
    x = np.random.default_rng(seed).standard_normal((batch, time, features))
    layer = build64(nn.Dropout(0.4), (time, features), seed)

    def same_mask() -> None:
        layer.rng = np.random.default_rng(seed)

    assert_close(check_layer(layer, x, training=True, before_forward=same_mask, seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("layer", ["Add", "Concatenate"])
def test_merge_layers(layer: str, seed: int) -> None:
    batch, time, features, _ = shapes(seed)
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, time, features)) for _ in range(3)]
    merge = build64(getattr(nn, layer)(), [(time, features)] * 3, seed)
    assert_close(check_layer(merge, xs, seed=seed))


def model_loss_gradient(model: nn.Network, x: Any, y: np.ndarray) -> float:
    """Relative error of d(loss)/d(flat parameters) for a whole compiled float64 model."""
    loss = model.loss
    assert loss is not None and model.flat_params is not None and model.flat_grads is not None

    def value() -> float:
        return loss.forward(model.forward(x), y, model.output_mask)

    value()
    model.backward(loss.backward())
    analytic = model.flat_grads.copy()
    return relative_error(analytic, numerical_gradient(value, model.flat_params))


@pytest.mark.parametrize("seed", SEEDS)
def test_character_model_with_padding(seed: int) -> None:
    """Embedding(mask_zero) -> LSTM -> Dense over padded sequences, with the mask reaching the loss."""
    batch, time, _, units = shapes(seed)
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 6, (batch, time))
    ids[random_mask(batch, time, rng) == 0] = 0
    model = nn.Sequential(
        [nn.Embedding(6, 3, mask_zero=True), nn.LSTM(units, return_sequences=True), nn.LayerNorm(), nn.Dense(6)],
        seed=seed,
        dtype="float64",
    )
    model.compile("sgd", "softmax_cross_entropy")
    model.build((time,))
    assert model_loss_gradient(model, ids, rng.integers(0, 6, (batch, time))) <= TOLERANCE


@pytest.mark.parametrize("seed", SEEDS)
def test_functional_model_with_branches(seed: int) -> None:
    batch, _, features, units = shapes(seed)
    rng = np.random.default_rng(seed)
    a, b = nn.Input((features,)), nn.Input((features,))
    left = nn.Tanh()(nn.Dense(units)(a))
    right = nn.GELU()(nn.Dense(units)(b))
    joined = nn.Concatenate()([nn.Add()([left, right]), nn.Dense(units)(a)])
    model = nn.Model([a, b], nn.Dense(3)(joined), seed=seed, dtype="float64")
    model.compile("sgd", "softmax_cross_entropy")
    model.build([(features,), (features,)])
    model.flat_params += 0.1 * rng.standard_normal(model.flat_params.shape)
    x = [rng.standard_normal((batch, features)), rng.standard_normal((batch, features))]
    assert model_loss_gradient(model, x, rng.integers(0, 3, batch)) <= TOLERANCE


# -- losses ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("targets", ["ids", "distributions"])
@pytest.mark.parametrize("masked", [False, True])
def test_softmax_cross_entropy(seed: int, targets: str, masked: bool) -> None:
    batch, time, features, _ = shapes(seed)
    rng = np.random.default_rng(seed)
    classes = features + 1
    logits = 3 * rng.standard_normal((batch, time, classes))
    if targets == "ids":
        y = rng.integers(0, classes, (batch, time))
    else:
        y = rng.random((batch, time, classes))
        y /= y.sum(-1, keepdims=True)
    mask = random_mask(batch, time, rng) if masked else None
    assert check_loss(nn.SoftmaxCrossEntropy(), logits, y, mask) <= TOLERANCE


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    loss = nn.SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1000.0, -1000.0, 0.0]], np.float32), np.array([1]))
    assert np.isfinite(value) and value == pytest.approx(2000.0, rel=1e-6)
    assert np.all(np.isfinite(loss.backward()))
    assert loss.forward(np.zeros((2, 65)), np.array([3, 4])) == pytest.approx(np.log(65))


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_on_probabilities(seed: int) -> None:
    batch, _, features, _ = shapes(seed)
    rng = np.random.default_rng(seed)
    probs = nn.Softmax().forward(rng.standard_normal((batch, features + 1)))
    assert check_loss(nn.CrossEntropy(), probs, rng.integers(0, features + 1, batch)) <= TOLERANCE


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("masked", [False, True])
def test_mean_squared_error(seed: int, masked: bool) -> None:
    batch, time, features, _ = shapes(seed)
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((batch, time, features))
    mask = random_mask(batch, time, rng) if masked else None
    assert check_loss(nn.MeanSquaredError(), out, rng.standard_normal(out.shape), mask) <= TOLERANCE


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("from_logits", [True, False])
def test_binary_cross_entropy(seed: int, from_logits: bool) -> None:
    batch, _, features, _ = shapes(seed)
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((batch, features)) if from_logits else rng.uniform(0.05, 0.95, (batch, features))
    y = rng.integers(0, 2, (batch, features))
    assert check_loss(nn.BinaryCrossEntropy(from_logits=from_logits), out, y) <= TOLERANCE


def test_float32_layers_agree_with_float64() -> None:
    """The float32 fast paths (exp-based LSTM gates) compute the same function as float64, to float32 accuracy."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 9, 5))
    outputs = []
    for dtype in ("float32", "float64"):
        model = nn.Sequential([nn.LSTM(7, return_sequences=True), nn.GRU(6), nn.Dense(3)], seed=3, dtype=dtype)
        outputs.append(model.predict(x))
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)
