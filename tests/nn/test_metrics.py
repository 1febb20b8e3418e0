"""Precision, recall, F1, AUC and top-k accuracy against scikit-learn, accumulated over batches as fit does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from sudoless import nn
from sudoless.nn.losses import Loss
from sudoless.nn.metrics import Metric, get_metric
from sudoless.nn.outputs import OutputMetric

SEEDS = [0, 1, 2]


def batched(metric: Metric, loss: Loss, output: np.ndarray, target: np.ndarray, size: int = 7) -> float:
    """The metric over batches of ``size``, as an epoch accumulates it."""
    metric.reset()
    for start in range(0, len(output), size):
        part = slice(start, start + size)
        metric.update(output[part], target[part], None, loss, 0.0, 0.0)
    return metric.result()


def _binary(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 61)
    logits = rng.standard_normal(61) + 1.2 * (y - 0.5)
    return logits[:, None], y[:, None], 1 / (1 + np.exp(-logits))


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_precision_recall_f1_auc(seed: int) -> None:
    logits, y, p = _binary(seed)
    loss = nn.BinaryCrossEntropy()
    predicted = (p > 0.5).astype(int)
    assert batched(nn.Precision(), loss, logits, y) == pytest.approx(sk.precision_score(y[:, 0], predicted))
    assert batched(nn.Recall(), loss, logits, y) == pytest.approx(sk.recall_score(y[:, 0], predicted))
    assert batched(nn.F1Score(), loss, logits, y) == pytest.approx(sk.f1_score(y[:, 0], predicted))
    exact = sk.roc_auc_score(y[:, 0], p)
    assert batched(nn.AUC(), loss, logits, y) == pytest.approx(exact, abs=1e-12)
    assert batched(nn.AUC(num_thresholds=200), loss, logits, y) == pytest.approx(exact, abs=0.02)
    # a threshold moves the decision
    strict = (p > 0.8).astype(int)
    assert batched(nn.Precision(threshold=0.8), loss, logits, y) == pytest.approx(
        sk.precision_score(y[:, 0], strict, zero_division=0)
    )


def test_auc_with_ties_and_thresholds_matches_the_trapezoid() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    p = np.array([0.1, 0.4, 0.4, 0.8, 0.8, 0.8, 0.9, 0.2])
    loss = nn.MeanSquaredError()  # scores used as they are
    assert batched(nn.AUC(), loss, p[:, None], y[:, None], 3) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    # with thresholds on a grid every distinct score falls on, the bucketed area is the exact one
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    scores = grid[[1, 2, 2, 3, 3, 3, 4, 0]] - 1e-9
    thresholded = batched(nn.AUC(num_thresholds=5), loss, scores[:, None], y[:, None], 3)
    assert thresholded == pytest.approx(sk.roc_auc_score(y, scores), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("targets", ["ids", "one-hot"])
def test_multiclass_metrics(seed: int, targets: str) -> None:
    rng = np.random.default_rng(seed)
    classes, n = 5, 83
    labels = rng.integers(0, classes, n)
    logits = rng.standard_normal((n, classes)) + 1.5 * np.eye(classes)[labels]
    y = labels if targets == "ids" else np.eye(classes)[labels]
    loss = nn.SoftmaxCrossEntropy()
    predicted = logits.argmax(-1)
    for name, score in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        metric = get_metric(name)
        assert batched(metric, loss, logits, y) == pytest.approx(score(labels, predicted, average="macro"))
        micro = get_metric({"name": name, "average": "micro"})
        assert batched(micro, loss, logits, y) == pytest.approx(score(labels, predicted, average="micro"))
        one = get_metric({"name": name, "class_id": 2})
        assert batched(one, loss, logits, y) == pytest.approx(score(labels, predicted, labels=[2], average="macro"))
    probs = loss.activate(logits)
    micro_auc = sk.roc_auc_score(np.eye(classes)[labels], probs, average="micro")
    assert batched(nn.AUC(), loss, logits, y) == pytest.approx(micro_auc, abs=1e-12)
    for k in (1, 2, 3):
        expected = sk.top_k_accuracy_score(labels, probs, k=k, labels=range(classes))
        assert batched(nn.TopKCategoricalAccuracy(k), loss, logits, y) == pytest.approx(expected)
        assert batched(nn.SparseTopKCategoricalAccuracy(k=k), loss, logits, y) == pytest.approx(expected)


def test_multilabel_sigmoid_outputs_count_every_label() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (40, 3))
    logits = rng.standard_normal((40, 3)) + (y - 0.5)
    predicted = (logits > 0).astype(int)
    loss = nn.BinaryCrossEntropy()
    assert batched(nn.Precision(), loss, logits, y) == pytest.approx(sk.precision_score(y, predicted, average="micro"))
    assert batched(nn.Recall(class_id=1), loss, logits, y) == pytest.approx(sk.recall_score(y[:, 1], predicted[:, 1]))
    probs = loss.activate(logits)
    assert batched(nn.AUC(), loss, logits, y) == pytest.approx(sk.roc_auc_score(y, probs, average="micro"), abs=1e-12)


def test_metrics_by_name_in_compile_report_the_whole_data_set() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((90, 6))
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8).astype(int)
    model = nn.Sequential([nn.Dense(16), nn.Tanh(), nn.Dense(3)], seed=0)
    names = ["precision", "recall", "f1", "auc", {"name": "sparse_top_k_categorical_accuracy", "k": 2}]
    model.compile(nn.Adam(0.01), "softmax_cross_entropy", names)
    history = model.fit(x, labels, epochs=3, batch_size=16, validation_data=(x, labels), verbose=0)
    assert {"precision", "recall", "f1", "auc", "sparse_top_k_categorical_accuracy", "val_auc"} <= set(history.history)
    scores = model.evaluate(x, labels, batch_size=13)
    probs = model.predict(x, activate=True)
    predicted = probs.argmax(-1)
    assert scores["precision"] == pytest.approx(sk.precision_score(labels, predicted, average="macro", zero_division=0))
    assert scores["recall"] == pytest.approx(sk.recall_score(labels, predicted, average="macro", zero_division=0))
    assert scores["f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro", zero_division=0))
    assert scores["auc"] == pytest.approx(sk.roc_auc_score(np.eye(3)[labels], probs, average="micro"), abs=1e-6)
    assert scores["sparse_top_k_categorical_accuracy"] == pytest.approx(
        sk.top_k_accuracy_score(labels, probs, k=2, labels=range(3))
    )
    assert history["val_auc"][-1] == pytest.approx(scores["auc"], abs=1e-12)


def test_masked_sequence_metrics_skip_padding() -> None:
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((4, 6, 3))
    labels = rng.integers(0, 3, (4, 6))
    mask = rng.random((4, 6)) > 0.3
    metric = nn.Precision()
    metric.update(logits, labels, mask, nn.SoftmaxCrossEntropy(), 0.0, 0.0)
    expected = sk.precision_score(labels[mask], logits.argmax(-1)[mask], average="macro", zero_division=0)
    assert metric.result() == pytest.approx(expected)


def test_metric_options_are_saved_with_the_model(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Dense(4)], seed=0)
    model.compile("adam", "softmax_cross_entropy", ["accuracy", {"name": "top_k_categorical_accuracy", "k": 2}, "auc"])
    model.build((3,))
    loaded = nn.load_model(model.save(tmp_path / "m"))
    assert [m.get_config() for m in loaded.metrics] == [{}, {"k": 2}, {"num_thresholds": None}]
    x = nn.Input((3,))
    two = nn.Model(x, [nn.Dense(4, name="a")(x), nn.Dense(4, name="b")(x)], seed=0)
    two.compile("adam", "softmax_cross_entropy", {"a": [{"name": "precision", "average": "micro"}], "b": ["f1"]})
    two.build((3,))
    again = nn.load_model(two.save(tmp_path / "two"))
    assert {m.name: m.metric.get_config() for m in again.metrics if isinstance(m, OutputMetric)} == {
        "a_precision": {"threshold": 0.5, "average": "micro", "class_id": None},
        "b_f1": {"threshold": 0.5, "average": "macro", "class_id": None},
    }
