"""Convolution, pooling, batch normalisation and shape layers: gradients, shapes, modes and save/load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nn.support import TOLERANCE, build64
from nn.test_gradients import assert_close, model_loss_gradient
from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.gradcheck import check_layer

SEEDS = [0, 1, 2]

IMAGE_LAYERS: dict[str, Callable[[], nn.Layer]] = {
    "conv-valid": lambda: nn.Conv2D(3, 3),
    "conv-same-stride": lambda: nn.Conv2D(3, (3, 2), strides=2, padding="same"),
    "conv-same-dilated": lambda: nn.Conv2D(2, 2, padding="same", dilation_rate=(2, 1)),
    "conv-groups": lambda: nn.Conv2D(4, 3, padding="same", groups=2),
    "conv-no-bias-relu": lambda: nn.Conv2D(3, 1, use_bias=False, activation="tanh"),
    "maxpool": lambda: nn.MaxPooling2D(2),
    "maxpool-same-overlap": lambda: nn.MaxPooling2D(3, strides=2, padding="same"),
    "avgpool": lambda: nn.AveragePooling2D((2, 3)),
    "avgpool-same": lambda: nn.AveragePooling2D(3, strides=2, padding="same"),
    "global-max": lambda: nn.GlobalMaxPooling2D(),
    "global-avg": lambda: nn.GlobalAveragePooling2D(),
    "batchnorm": lambda: nn.BatchNormalization(),
    "reshape": lambda: nn.Reshape((-1, 2)),
    "permute": lambda: nn.Permute((3, 1, 2)),
}

SEQUENCE_LAYERS: dict[str, Callable[[], nn.Layer]] = {
    "conv1d": lambda: nn.Conv1D(3, 3),
    "conv1d-same-stride-dilated": lambda: nn.Conv1D(4, 2, strides=2, padding="same", dilation_rate=2, groups=2),
    "maxpool1d": lambda: nn.MaxPooling1D(2),
    "avgpool1d-same": lambda: nn.AveragePooling1D(3, strides=1, padding="same"),
    "global-max-1d": lambda: nn.GlobalMaxPooling1D(),
    "global-avg-1d": lambda: nn.GlobalAveragePooling1D(),
}


def distinct(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Values at least 0.01 apart, so max pooling's winner never changes under a ±1e-5 perturbation."""
    values = rng.permutation(int(np.prod(shape))).astype(np.float64) * 0.01
    return (values - values.mean()).reshape(shape)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(IMAGE_LAYERS))
def test_image_layers(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 4)), int(rng.integers(5, 8)), int(rng.integers(5, 8)), 4)
    layer = build64(IMAGE_LAYERS[name](), shape[1:], seed)
    assert_close(check_layer(layer, distinct(shape, rng), seed=seed, training=True))
    assert layer.forward(distinct(shape, rng)).shape[1:] == layer.output_shape(shape[1:])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS))
def test_sequence_layers(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 4)), int(rng.integers(6, 10)), 4)
    layer = build64(SEQUENCE_LAYERS[name](), shape[1:], seed)
    assert_close(check_layer(layer, distinct(shape, rng), seed=seed))
    assert layer.forward(distinct(shape, rng)).shape[1:] == layer.output_shape(shape[1:])


def test_batchnorm_inference_uses_moving_statistics_and_is_differentiable() -> None:
    rng = np.random.default_rng(0)
    layer = build64(nn.BatchNormalization(momentum=0.5), (3,))
    x = 2 + 3 * rng.standard_normal((64, 3))
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.5 * x.mean(0))
    np.testing.assert_allclose(layer.state["moving_variance"], 0.5 + 0.5 * x.var(0))
    out = layer.forward(x[:1], training=False)
    expected = (x[:1] - 0.5 * x.mean(0)) / np.sqrt(0.5 + 0.5 * x.var(0) + 1e-3) * layer.params["gamma"]
    np.testing.assert_allclose(out, expected + layer.params["beta"])
    assert_close(check_layer(layer, x[:5], training=False))


def test_same_padding_sizes_follow_keras() -> None:
    """``same``: output ceil(n / stride); the odd padding cell goes at the end (bottom/right)."""
    x = np.arange(1, 6, dtype=np.float64).reshape(1, 5, 1)
    pool = nn.MaxPooling1D(2, padding="same")
    pool.build((5, 1), np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(pool.forward(x)[0, :, 0], [2, 4, 5])
    avg = nn.AveragePooling1D(2, padding="same")
    avg.build((5, 1), np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(avg.forward(x)[0, :, 0], [1.5, 3.5, 5.0])
    assert nn.Conv2D(2, 3, strides=2, padding="same").output_shape((7, 8, 1)) == (4, 4, 2)
    assert nn.Conv2D(2, 3, dilation_rate=2).output_shape((7, 8, 1)) == (3, 4, 2)


TILED_TIES = [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
OVERLAPPING_TIES = [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize(("strides", "ties"), [(2, TILED_TIES), (1, OVERLAPPING_TIES)])
def test_max_pooling_gradient_goes_to_the_first_maximum_on_ties(strides: int, ties: list[list[int]]) -> None:
    """A window of equal values sends its whole gradient to its first cell (row-major), as PyTorch does, whether
    the windows tile the image (each cell written once) or overlap (added); a later, strictly larger value
    takes over."""
    pool = nn.MaxPooling2D(2, strides=strides)
    pool.build((4, 4, 1), np.random.default_rng(0), np.float64)
    x = np.zeros((1, 4, 4, 1))
    dx = pool.backward(np.ones_like(pool.forward(x, training=True)))
    np.testing.assert_array_equal(dx[0, :, :, 0], ties)
    x[0, 1, 1, 0] = x[0, 3, 2, 0] = 1.0
    dx = pool.backward(np.ones_like(pool.forward(x, training=True)))
    if strides == 2:
        np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    else:  # (1, 1) wins the four windows holding it, (3, 2) two, and the other three windows keep their first cell
        assert dx[0, 1, 1, 0] == 4 and dx[0, 3, 2, 0] == 2 and dx.sum() == 9


@pytest.mark.parametrize(
    ("make", "shape", "message"),
    [
        (lambda: nn.Conv2D(3, 3, groups=2), (8, 8, 4), "positive multiple of groups"),
        (lambda: nn.Conv2D(4, 3, groups=2), (8, 8, 3), "do not split into 2 groups"),
        (lambda: nn.Conv2D(4, 5), (4, 4, 1), "does not fit"),
        (lambda: nn.Conv2D(4, 3, padding="full"), (8, 8, 1), "'valid' or 'same'"),
        (lambda: nn.Conv2D(4, 0), (8, 8, 1), "kernel_size must be a positive whole number"),
        (lambda: nn.Conv2D(4, 3), (8, 8), "expects inputs of 3 axes"),
        (lambda: nn.Conv1D(4, [3, 3]), (8, 1), "1-D layer is one number"),
        (lambda: nn.Dense(4, activation="swish"), (8,), "unknown activation 'swish'"),
        (lambda: nn.Reshape((3, -1)), (8,), "cannot reshape"),
        (lambda: nn.Permute((1, 1)), (2, 2), "each once"),
    ],
)
def test_bad_layer_arguments_are_input_errors(make: Callable[[], nn.Layer], shape: tuple, message: str) -> None:
    with pytest.raises(InputError, match=message):
        nn.Sequential([make()]).build(shape)


def small_cnn(seed: int, dtype: str = "float64") -> nn.Sequential:
    return nn.Sequential(
        [
            nn.Conv2D(4, 3, padding="same", activation="tanh"),
            nn.BatchNormalization(momentum=0.9),
            nn.MaxPooling2D(2),
            nn.Conv2D(6, 2, strides=1, groups=2),
            nn.AveragePooling2D(2, padding="same"),
            nn.Flatten(),
            nn.Dense(5, activation="tanh"),
            nn.Dense(3),
        ],
        seed=seed,
        dtype=dtype,
    )


@pytest.mark.parametrize("seed", [0, 1, 3])  # seed 2 puts two max-pool candidates 5e-6 apart: within the step h
def test_whole_cnn_loss_gradient(seed: int) -> None:
    """Conv -> BatchNorm -> pooling -> Dense, in inference mode and in training mode (batch statistics)."""
    rng = np.random.default_rng(seed)
    model = small_cnn(seed).compile("sgd", "softmax_cross_entropy")
    model.build((7, 7, 2))
    model.flat_params += 0.1 * rng.standard_normal(model.flat_params.shape)
    x = distinct((4, 7, 7, 2), rng)

    def loss_in_training_mode() -> float:
        return model.loss.forward(model.forward(x, training=True), y)  # type: ignore[union-attr]

    y = rng.integers(0, 3, 4)
    assert model_loss_gradient(model, x, y) <= TOLERANCE  # inference mode
    loss_in_training_mode()
    from sudoless.nn.gradcheck import numerical_gradient, relative_error

    model.backward(model.loss.backward())  # type: ignore[union-attr]
    analytic = model.flat_grads.copy()  # type: ignore[union-attr]
    assert relative_error(analytic, numerical_gradient(loss_in_training_mode, model.flat_params)) <= TOLERANCE


def test_cnn_saves_and_loads_with_its_moving_statistics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 7, 7, 2)), rng.integers(0, 3, 32)
    model = small_cnn(0, "float32").compile("adam", "softmax_cross_entropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    moving = model.get_state()
    assert set(moving) == {"batchnormalization_1/moving_mean", "batchnormalization_1/moving_variance"}
    assert not np.allclose(moving["batchnormalization_1/moving_mean"], 0)
    model.save(tmp_path / "cnn")
    loaded = nn.load_model(tmp_path / "cnn")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for name, value in moving.items():
        np.testing.assert_array_equal(loaded.get_state()[name], value)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_functional_conv_model_with_keras_aliases() -> None:
    image = nn.Input((8, 8, 1))
    h = nn.layers.layer_from_config({"class": "MaxPool2D", "config": {}})(nn.Conv2D(4, 3, padding="same")(image))
    seq = nn.Reshape((16, 4))(h)
    out = nn.Dense(2)(nn.GlobalAveragePooling1D()(nn.Conv1D(3, 3, padding="same")(nn.Permute((1, 2))(seq))))
    model = nn.Model(image, out).compile("adam", "mse")
    assert model.predict(np.zeros((3, 8, 8, 1))).shape == (3, 2)


def test_lenet5_example_trains_to_96_percent_and_evaluates_the_same(tmp_path: Path) -> None:
    """examples/nn/lenet5.yaml through the real CLI: the 8x8 digits as images, then `nn eval` of the saved run."""
    import json

    from nn.test_cli import sudoless

    run = tmp_path / "lenet"
    result = sudoless(tmp_path, "nn", "train", "examples/nn/lenet5.yaml", "-o", str(run), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["parameters"] == 19754 and report["threads"] == 1
    assert report["metrics"]["test_accuracy"] >= 0.95, report["metrics"]
    scored = sudoless(tmp_path, "nn", "eval", str(run), "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["metrics"]["accuracy"] == pytest.approx(report["metrics"]["test_accuracy"])
