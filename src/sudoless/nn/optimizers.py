"""Optimisers working on a model's flat parameter and gradient vectors.

A model packs every parameter into one contiguous vector (and every gradient into another), with the
weight-decayed parameters (matrices and embeddings, ``ndim >= 2``) first and biases and normalisation gains
after. An update is then a handful of vectorised operations on one buffer, however many layers there are, and
weight decay is a slice. State buffers and a scratch buffer are allocated once, on the first step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.schedules import Schedule, get_schedule
from sudoless.nn.specs import build

Array = np.ndarray


class Optimizer:
    """Base: clipping, weight decay bookkeeping, the learning-rate schedule and the step counter.

    Clipping follows Keras's names: ``clipvalue`` clamps each element; ``clipnorm`` rescales each parameter
    tensor's gradient whose own L2 norm exceeds it; ``global_clipnorm`` rescales the whole gradient when the
    norm of all of it together exceeds it (Pascanu et al. 2013; keeps the direction). Until this release
    ``clipnorm`` meant the global norm; a saved model whose optimiser predates ``global_clipnorm`` is read
    with its ``clipnorm`` as the global one, so it resumes as it trained. ``weight_decay`` is L2 added to the
    gradient for SGD, RMSprop and Adam, and decoupled from the gradient for AdamW (Loshchilov & Hutter 2019).

    ``segments`` (the start of each parameter tensor in the flat vector) is set by the model the optimiser
    serves, for per-tensor clipping; an optimiser stepped by hand without it sees one tensor.
    """

    name = "optimizer"
    state_names: tuple[str, ...] = ()
    scratch: Array  # the size of the parameters, made on the first step (and again if they change)

    def __init__(
        self,
        learning_rate: float | Schedule | dict[str, Any] = 0.01,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        weight_decay: float = 0.0,
        global_clipnorm: float | None = None,
    ) -> None:
        if clipnorm is not None and global_clipnorm is not None:
            raise InputError("give clipnorm (per tensor) or global_clipnorm (all gradients together), not both")
        for what, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if value is not None and not float(value) > 0:
                raise InputError(f"{what} must be positive, got {value}")
        self.schedule = get_schedule(learning_rate)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self.state: dict[str, Array] = {}
        self.last_grad_norm = float("nan")
        self.segments: Array | None = None

    @property
    def learning_rate(self) -> float:
        return self.schedule(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        """Set a constant learning rate (what ReduceLROnPlateau does); a decaying schedule cannot be set."""
        if type(self.schedule) is not Schedule:  # the constant one; subclasses decay
            raise InputError(
                f"the learning rate follows a {type(self.schedule).__name__} schedule and cannot be set; "
                "use a constant learning rate with ReduceLROnPlateau"
            )
        self.schedule = Schedule(float(value))

    def step(self, params: Array, grads: Array, decayed: int) -> None:
        """Update ``params`` in place from ``grads`` (which may be modified); ``params[:decayed]`` get decay."""
        if not self.state and self.state_names:
            self.state = {name: np.zeros_like(params) for name in self.state_names}
        if "scratch" not in self.__dict__ or self.scratch.shape != params.shape or self.scratch.dtype != params.dtype:
            self.scratch = np.empty_like(params)
        if self.clipvalue is not None:
            np.clip(grads, -self.clipvalue, self.clipvalue, out=grads)
        if self.clipnorm is not None:
            self._clip_each(grads, self.clipnorm)
        if self.global_clipnorm is not None:
            norm = float(np.sqrt(np.dot(grads, grads)))
            self.last_grad_norm = norm
            if norm > self.global_clipnorm:
                grads *= np.asarray(self.global_clipnorm / (norm + 1e-12), dtype=grads.dtype)
        lr = self.learning_rate
        self._update(params, grads, decayed, lr)
        self.iterations += 1

    def _clip_each(self, grads: Array, limit: float) -> None:
        """Scale each tensor's gradient whose norm exceeds ``limit`` down to it (norms in one pass over the
        buffer: ``reduceat`` over the tensors' starts)."""
        starts = np.zeros(1, np.intp) if self.segments is None else self.segments
        squares = np.multiply(grads, grads, out=self.scratch)
        norms = np.sqrt(np.add.reduceat(squares, starts, dtype=np.float64))
        self.last_grad_norm = float(np.sqrt(np.sum(norms * norms)))
        scale = np.minimum(1.0, limit / (norms + 1e-12))
        if np.all(scale == 1.0):
            return
        sizes = np.diff(np.r_[starts, grads.size])
        grads *= np.repeat(scale.astype(grads.dtype), sizes)

    def _add_l2(self, params: Array, grads: Array, decayed: int) -> None:
        if self.weight_decay and decayed:
            np.multiply(params[:decayed], self.weight_decay, out=self.scratch[:decayed])
            grads[:decayed] += self.scratch[:decayed]

    def _update(self, params: Array, grads: Array, decayed: int, lr: float) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "learning_rate": self.schedule.get_config(),
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "weight_decay": self.weight_decay,
        }

    def state_arrays(self) -> dict[str, Array]:
        return {**self.state, "iterations": np.array(self.iterations)}

    def load_state_arrays(self, arrays: dict[str, Array]) -> None:
        self.iterations = int(arrays.get("iterations", 0))
        self.state = {k: np.array(v) for k, v in arrays.items() if k in self.state_names}


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    name = "sgd"

    def __init__(
        self,
        learning_rate: float | Schedule | dict[str, Any] = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self.state_names = ("velocity",) if self.momentum else ()

    def _update(self, params: Array, grads: Array, decayed: int, lr: float) -> None:
        self._add_l2(params, grads, decayed)
        if self.momentum:
            v = self.state["velocity"]
            v *= self.momentum
            v += grads
            if self.nesterov:
                np.multiply(v, self.momentum, out=self.scratch)
                self.scratch += grads
                direction = self.scratch
            else:
                direction = v
        else:
            direction = grads
        np.multiply(direction, lr, out=self.scratch)
        params -= self.scratch

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide each gradient by a running root mean square of its recent values (Tieleman & Hinton 2012)."""

    name = "rmsprop"
    state_names = ("square",)

    def __init__(
        self,
        learning_rate: float | Schedule | dict[str, Any] = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, params: Array, grads: Array, decayed: int, lr: float) -> None:
        self._add_l2(params, grads, decayed)
        sq, s = self.state["square"], self.scratch
        sq *= self.rho
        np.multiply(grads, grads, out=s)
        s *= 1.0 - self.rho
        sq += s
        np.sqrt(sq, out=s)
        s += self.epsilon
        np.divide(grads, s, out=s)
        s *= lr
        params -= s

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size."""

    name = "adam"
    state_names = ("m", "v")
    decoupled = False

    def __init__(
        self,
        learning_rate: float | Schedule | dict[str, Any] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, params: Array, grads: Array, decayed: int, lr: float) -> None:
        if self.decoupled:
            if self.weight_decay and decayed:
                params[:decayed] *= 1.0 - lr * self.weight_decay
        else:
            self._add_l2(params, grads, decayed)
        m, v, s = self.state["m"], self.state["v"], self.scratch
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        np.multiply(grads, 1.0 - b1, out=s)
        m += s
        v *= b2
        np.multiply(grads, grads, out=s)
        s *= 1.0 - b2
        v += s
        t = self.iterations + 1
        correction_2 = np.sqrt(1.0 - b2**t)
        step = lr * correction_2 / (1.0 - b1**t)
        np.sqrt(v, out=s)
        s += self.epsilon * correction_2
        np.divide(m, s, out=s)
        s *= step
        params -= s

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with weight decay applied to the weights directly, not through the adaptive gradient scaling."""

    name = "adamw"
    decoupled = True

    def __init__(
        self, learning_rate: float | Schedule | dict[str, Any] = 0.001, weight_decay: float = 0.01, **kwargs: Any
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


OPTIMIZERS: dict[str, type[Optimizer]] = {o.name: o for o in (SGD, RMSprop, Adam, AdamW)}


def get_optimizer(spec: str | dict[str, Any] | Optimizer) -> Optimizer:
    """An optimiser from an instance, a name, or ``{"name": ..., **options}``."""
    if isinstance(spec, Optimizer):
        return spec
    return build(OPTIMIZERS, spec, "optimizer")


def saved_optimizer(config: dict[str, Any]) -> Optimizer:
    """The optimiser of a saved model's config. Configs written before ``global_clipnorm`` existed have no
    such key, and their ``clipnorm`` was the global norm: it is read as ``global_clipnorm``."""
    config = dict(config)
    if "global_clipnorm" not in config and config.get("clipnorm") is not None:
        config["global_clipnorm"] = config.pop("clipnorm")
    return get_optimizer(config)
