"""Learning-rate schedules: the rate as a function of the optimiser step (counted from 0)."""

from __future__ import annotations

import math
from typing import Any

from sudoless.nn.specs import build


class Schedule:
    """Callable ``step -> learning rate``; ``get_config`` rebuilds it."""

    name = "constant"

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = float(learning_rate)

    def __call__(self, step: int) -> float:
        return self.learning_rate

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""

    name = "step"

    def __init__(self, learning_rate: float, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(learning_rate)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, step: int) -> float:
        return self.learning_rate * self.gamma ** (step // self.step_size)


class ExponentialDecay(Schedule):
    """``lr * decay_rate ** (step / decay_steps)``: smooth exponential decay."""

    name = "exponential"

    def __init__(self, learning_rate: float, decay_steps: int, decay_rate: float) -> None:
        super().__init__(learning_rate)
        self.decay_steps, self.decay_rate = int(decay_steps), float(decay_rate)

    def __call__(self, step: int) -> float:
        return self.learning_rate * self.decay_rate ** (step / self.decay_steps)


class CosineDecay(Schedule):
    """Linear warm-up over ``warmup_steps``, then a half cosine down to ``min_learning_rate`` at ``total_steps``."""

    name = "cosine"

    def __init__(
        self, learning_rate: float, total_steps: int, warmup_steps: int = 0, min_learning_rate: float = 0.0
    ) -> None:
        super().__init__(learning_rate)
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_learning_rate + 0.5 * (self.learning_rate - self.min_learning_rate) * (
            1 + math.cos(math.pi * progress)
        )


SCHEDULES: dict[str, type[Schedule]] = {s.name: s for s in (Schedule, StepDecay, ExponentialDecay, CosineDecay)}


def get_schedule(spec: float | dict[str, Any] | Schedule) -> Schedule:
    """A schedule from a number (constant), an instance, or ``{"name": ..., **options}``."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, int | float):
        return Schedule(spec)
    return build(SCHEDULES, spec, "learning-rate schedule", default="constant")
