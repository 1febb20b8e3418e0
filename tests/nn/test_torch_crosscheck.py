"""Conv2D, pooling and BatchNormalization against PyTorch in float64: outputs and every gradient.

PyTorch is not a dependency of sudoless, nor of its test extra; install it to run these (they are skipped,
with the reason, without it). sudoless is channels-last with Keras's kernel layout; the inputs and kernels
are transposed into PyTorch's channels-first layout, and ``same`` padding is applied explicitly with the
amounts sudoless computes (PyTorch refuses ``padding="same"`` with strides).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nn.support import build64
from sudoless import nn

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch to cross-check)")
F = torch.nn.functional


def nchw(x: np.ndarray) -> Any:
    return torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)


def back(t: Any) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


def torch_pad(x: Any, layer: Any, value: float = 0.0) -> Any:
    (top, bottom), (left, right) = layer.window.plan(x.shape[2], x.shape[3])[1]
    return F.pad(x, (left, right, top, bottom), value=value)


CONVS = {
    "valid": dict(filters=5, kernel_size=3),
    "same-stride2": dict(filters=4, kernel_size=(3, 2), strides=2, padding="same"),
    "dilated": dict(filters=3, kernel_size=2, dilation_rate=(2, 3), padding="same"),
    "groups": dict(filters=6, kernel_size=3, groups=3, strides=(1, 2)),
}


@pytest.mark.parametrize("name", sorted(CONVS))
def test_conv2d_matches_torch(name: str) -> None:
    options = CONVS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 9, 8, 6))
    layer = build64(nn.Conv2D(**options), x.shape[1:])
    out = layer.forward(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    xt = nchw(x)
    w = torch.tensor(layer.params["W"].transpose(3, 2, 0, 1), requires_grad=True)
    b = torch.tensor(layer.params["b"], requires_grad=True)
    yt = F.conv2d(
        torch_pad(xt, layer), w, b, stride=layer.window.stride, dilation=layer.window.dilation, groups=layer.groups
    )
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, back(yt), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, back(xt.grad), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], w.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], b.grad.numpy(), rtol=1e-12, atol=1e-12)


POOLS = {
    "max": (nn.MaxPooling2D(2), lambda x: F.max_pool2d(x, 2)),
    "max-overlapping-same": (nn.MaxPooling2D(3, strides=2, padding="same"), None),
    "average": (nn.AveragePooling2D((2, 3), strides=(1, 2)), lambda x: F.avg_pool2d(x, (2, 3), stride=(1, 2))),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pooling_matches_torch(name: str) -> None:
    layer, reference = POOLS[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 9, 3))
    layer.build(x.shape[1:], rng, np.float64)
    out = layer.forward(x)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    xt = nchw(x)
    if name == "max-overlapping-same":
        yt = F.max_pool2d(torch_pad(xt, layer, -np.inf), 3, stride=2)
    else:
        yt = reference(xt)  # type: ignore[misc]
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, back(yt), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dx, back(xt.grad), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_matches_torch(training: bool) -> None:
    rng = np.random.default_rng(2)
    x = 1.5 + 2 * rng.standard_normal((4, 5, 6, 3))
    layer = build64(nn.BatchNormalization(momentum=0.9, epsilon=1e-3), x.shape[1:])
    layer.state["moving_mean"][...] = rng.standard_normal(3)
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2, 3)
    running_mean = torch.tensor(layer.state["moving_mean"].copy())
    running_var = torch.tensor(layer.state["moving_variance"].copy())
    out = layer.forward(x, training=training)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)
    xt = nchw(x)
    gamma = torch.tensor(layer.params["gamma"], requires_grad=True)
    beta = torch.tensor(layer.params["beta"], requires_grad=True)
    yt = F.batch_norm(xt, running_mean, running_var, gamma, beta, training=training, momentum=0.1, eps=1e-3)
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, back(yt), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, back(xt.grad), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(layer.grads["gamma"], gamma.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["beta"], beta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], running_mean.numpy(), rtol=1e-12)
    if training:  # PyTorch moves towards the unbiased batch variance, Keras (and sudoless) the biased one
        n = x.size // 3
        biased = x.reshape(-1, 3).var(axis=0)
        start = running_var.numpy() - 0.1 * biased * n / (n - 1)
        np.testing.assert_allclose(layer.state["moving_variance"], start + 0.1 * biased, rtol=1e-12)


def test_shared_layer_and_two_weighted_outputs_match_torch() -> None:
    """A siamese trunk (one Dense on two inputs) with a classification and a regression head, loss weighted."""
    rng = np.random.default_rng(3)
    a, b = nn.Input((4,)), nn.Input((4,))
    shared = nn.Dense(5, name="shared")
    left, right = nn.Tanh()(shared(a)), nn.Tanh()(shared(b))
    kind = nn.Dense(3, name="kind")(nn.Concatenate()([left, right]))
    size = nn.Dense(2, name="size")(left)
    model = nn.Model([a, b], [kind, size], seed=0, dtype="float64")
    model.compile("sgd", ["softmax_cross_entropy", "mse"], loss_weights=[0.7, 1.9])
    model.build([(4,), (4,)])
    model.flat_params += 0.2 * rng.standard_normal(model.flat_params.shape)
    x = [rng.standard_normal((6, 4)), rng.standard_normal((6, 4))]
    labels, target = rng.integers(0, 3, 6), rng.standard_normal((6, 2))
    loss = model.loss
    assert loss is not None
    value = loss.forward(model.forward(x), [labels, target], model.output_mask)
    model.backward(loss.backward())
    grads = {name: layer.grads[key] for name, (layer, key, _) in model.slots.items()}

    w = {name: torch.tensor(v, requires_grad=True) for name, v in model.get_weights().items()}
    xa, xb = (torch.tensor(v) for v in x)
    ta = torch.tanh(xa @ w["shared/W"] + w["shared/b"])
    tb = torch.tanh(xb @ w["shared/W"] + w["shared/b"])
    logits = torch.cat([ta, tb], dim=1) @ w["kind/W"] + w["kind/b"]
    regression = ta @ w["size/W"] + w["size/b"]
    total = 0.7 * F.cross_entropy(logits, torch.tensor(labels)) + 1.9 * F.mse_loss(regression, torch.tensor(target))
    total.backward()
    assert value == pytest.approx(float(total), rel=1e-14)
    for name, tensor in w.items():
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
