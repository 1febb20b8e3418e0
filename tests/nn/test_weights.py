"""Sample and class weights: Keras's weighted mean, the gradients of weighted losses, and fit's use of them."""

from __future__ import annotations

import numpy as np
import pytest

from nn.support import TOLERANCE
from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.gradcheck import check_loss, numerical_gradient, relative_error

SEEDS = [0, 1, 2]


def _per_example_ce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, labels[..., None], -1)[..., 0]


def test_weighted_loss_is_the_sum_of_weighted_terms_over_the_count() -> None:
    """Keras's reduction: Σ w·l / n, so weights of 2 double the loss and a weight of 0 drops an example."""
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    w = np.array([1.0, 2.0, 0.0, 0.5, 1.0, 3.0])
    loss = nn.SoftmaxCrossEntropy()
    expected = float(np.sum(w * _per_example_ce(logits, labels)) / 6)
    assert loss.forward(logits, labels, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert loss.forward(logits, labels, sample_weight=2 * np.ones(6)) == pytest.approx(2 * loss.forward(logits, labels))
    out, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    mse = float(np.sum(w[:, None] * (out - y) ** 2) / 18)
    assert nn.MeanSquaredError().forward(out, y, sample_weight=w) == pytest.approx(mse, rel=1e-12)


def test_sequence_weights_per_example_or_per_step_with_a_mask() -> None:
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((3, 5, 4)), rng.integers(0, 4, (3, 5))
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    w = np.array([1.0, 2.0, 0.5])
    terms = _per_example_ce(logits, labels) * mask * w[:, None]
    value = nn.SoftmaxCrossEntropy().forward(logits, labels, mask, w)
    assert value == pytest.approx(terms.sum() / mask.sum(), rel=1e-12)
    steps = rng.random((3, 5))
    value = nn.SoftmaxCrossEntropy().forward(logits, labels, mask, steps)
    assert value == pytest.approx((_per_example_ce(logits, labels) * mask * steps).sum() / mask.sum(), rel=1e-12)
    with pytest.raises(InputError, match="sample weights of shape"):
        nn.SoftmaxCrossEntropy().forward(logits, labels, None, np.ones(4))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("masked", [False, True])
def test_weighted_losses_gradients(seed: int, masked: bool) -> None:
    rng = np.random.default_rng(seed)
    batch, time, classes = 3 + seed, 4, 5
    w = rng.uniform(0.0, 3.0, batch)
    mask = rng.random((batch, time)) > 0.3 if masked else None
    if mask is not None:
        mask[:, 0] = True
    logits = 2 * rng.standard_normal((batch, time, classes))
    ids = rng.integers(0, classes, (batch, time))
    assert check_loss(nn.SoftmaxCrossEntropy(), logits, ids, mask, sample_weight=w) <= TOLERANCE
    dist = rng.random((batch, time, classes))
    dist /= dist.sum(-1, keepdims=True)
    assert check_loss(nn.SoftmaxCrossEntropy(), logits, dist, mask, sample_weight=w) <= TOLERANCE
    probs = nn.Softmax().forward(logits)
    assert check_loss(nn.CrossEntropy(), probs, ids, mask, sample_weight=w) <= TOLERANCE
    out = rng.standard_normal((batch, time, 2))
    assert check_loss(nn.MeanSquaredError(), out, rng.standard_normal(out.shape), mask, sample_weight=w) <= TOLERANCE
    bits = rng.integers(0, 2, out.shape)
    assert check_loss(nn.BinaryCrossEntropy(), out, bits, mask, sample_weight=w) <= TOLERANCE
    assert (
        check_loss(
            nn.BinaryCrossEntropy(from_logits=False), 1 / (1 + np.exp(-out)), bits, mask, h=1e-7, sample_weight=w
        )
        <= 1e-5
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_weighted_model_gradient_with_two_outputs(seed: int) -> None:
    """Per-output sample weights through a two-output graph: d(Σ w_k L_k)/d(parameters) by finite differences."""
    rng = np.random.default_rng(seed)
    x = nn.Input((3,))
    h = nn.Tanh()(nn.Dense(4)(x))
    model = nn.Model(x, [nn.Dense(3, name="kind")(h), nn.Dense(1, name="size")(h)], seed=seed, dtype="float64")
    model.compile("sgd", ["softmax_cross_entropy", "mse"], loss_weights=[1.0, 0.5])
    model.build((3,))
    xs = rng.standard_normal((5, 3))
    ys = [rng.integers(0, 3, 5), rng.standard_normal((5, 1))]
    ws = [rng.uniform(0, 2, 5), rng.uniform(0, 2, 5)]
    loss = model.loss
    assert loss is not None and model.flat_params is not None and model.flat_grads is not None

    def value() -> float:
        return loss.forward(model.forward(xs), ys, model.output_mask, ws)

    value()
    model.backward(loss.backward())
    analytic = model.flat_grads.copy()
    assert relative_error(analytic, numerical_gradient(value, model.flat_params)) <= TOLERANCE


def _model(seed: int = 0) -> nn.Sequential:
    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(3)], seed=seed, dtype="float64")
    return model.compile(nn.SGD(0.1), "softmax_cross_entropy", ["accuracy"])


def _data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)


def test_class_weight_is_the_sample_weight_of_each_class() -> None:
    x, y = _data()
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = _model().fit(x, y, epochs=3, batch_size=16, class_weight=weights, verbose=0)
    a = _model()
    by_sample = a.fit(x, y, epochs=3, batch_size=16, sample_weight=np.vectorize(weights.get)(y), verbose=0)
    assert by_class.history == by_sample.history
    one_hot = _model()
    one_hot.fit(x, np.eye(3)[y], epochs=3, batch_size=16, class_weight=weights, verbose=0)
    np.testing.assert_allclose(one_hot.packed()[0], a.packed()[0], rtol=1e-12)
    unweighted = _model().fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert unweighted.history["loss"] != by_class.history["loss"]
    # a class the dict does not name weighs 1, as in Keras
    partial = _model().fit(x, y, epochs=1, batch_size=16, class_weight={1: 3.0}, verbose=0)
    same = _model().fit(x, y, epochs=1, batch_size=16, sample_weight=np.where(y == 1, 3.0, 1.0), verbose=0)
    assert partial.history == same.history


def test_weighted_epoch_loss_and_validation_loss() -> None:
    x, y = _data()
    w = np.random.default_rng(3).uniform(0, 2, len(y))
    model = _model()
    history = model.fit(x, y, epochs=1, batch_size=len(y), sample_weight=w, validation_data=(x, y, w), verbose=0)
    # one full batch: the epoch's loss is the loss before the step, the validation loss the one after it
    after = model.evaluate(x, y, sample_weight=w)
    assert history["val_loss"][0] == pytest.approx(after["loss"], rel=1e-12)
    assert after["loss"] != pytest.approx(model.evaluate(x, y)["loss"])
    assert after["accuracy"] == model.evaluate(x, y)["accuracy"]  # metrics are not weighted


def test_weights_are_checked() -> None:
    x, y = _data()
    with pytest.raises(InputError, match="one weight per example"):
        _model().fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(InputError, match="not both"):
        _model().fit(x, y, sample_weight=np.ones(len(y)), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(InputError, match="not negative"):
        _model().fit(x, y, sample_weight=-np.ones(len(y)), verbose=0)
    with pytest.raises(InputError, match="class_weight is a mapping"):
        _model().fit(x, y, class_weight=[1.0, 2.0], verbose=0)  # type: ignore[arg-type]


def test_validation_split_holds_out_the_last_examples_before_shuffling() -> None:
    x, y = _data(50)
    split = _model().fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    cut = 37  # floor(50 × 0.75)
    manual = _model().fit(x[:cut], y[:cut], epochs=3, batch_size=8, validation_data=(x[cut:], y[cut:]), verbose=0)
    assert split.history == manual.history
    w = np.linspace(0.5, 1.5, 50)
    weighted = _model().fit(x, y, epochs=2, sample_weight=w, validation_split=0.25, verbose=0)
    by_hand = _model().fit(
        x[:cut], y[:cut], epochs=2, sample_weight=w[:cut], validation_data=(x[cut:], y[cut:], w[cut:]), verbose=0
    )
    assert weighted.history == by_hand.history
    with pytest.raises(InputError, match="validation_split"):
        _model().fit(x, y, validation_split=1.0, verbose=0)
    with pytest.raises(InputError, match="not both"):
        _model().fit(x, y, validation_split=0.2, validation_data=(x, y), verbose=0)
