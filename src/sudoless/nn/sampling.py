"""Generating text from a character-level model, one character at a time."""

from __future__ import annotations

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.data import decode, encode
from sudoless.nn.layers.activations import softmax
from sudoless.nn.model import Network
from sudoless.nn.training import recurrent_layers


def sample_text(
    model: Network, vocab: str, length: int = 500, prime: str = "\n", temperature: float = 1.0, seed: int = 0
) -> str:
    """Continue ``prime`` by ``length`` characters sampled from the model's next-character distribution.

    The model must map ``(batch, time)`` ids to ``(batch, time, vocab)`` logits. Its recurrent layers are made
    stateful for the duration, so each character costs one time step rather than a pass over the whole
    history. ``temperature`` below 1 sharpens the distribution (safer, more repetitive text); above 1 flattens it.
    """
    if temperature <= 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    if not prime:
        raise InputError("the prime text must not be empty")
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        raise InputError(f"the prime uses characters the model never saw: {''.join(unknown)!r}")
    rng = np.random.default_rng(seed)
    recurrent = recurrent_layers(model)
    flags = [layer.stateful for layer in recurrent]
    model.set_stateful(True)
    model.reset_states()
    try:
        logits = model.forward(encode(prime, vocab)[None, :], training=False)
        out: list[int] = []
        for _ in range(length):
            probs = softmax(np.asarray(logits[0, -1], dtype=np.float64) / temperature)
            nxt = int(rng.choice(len(probs), p=probs))
            out.append(nxt)
            logits = model.forward(np.array([[nxt]]), training=False)
    finally:
        for layer, flag in zip(recurrent, flags, strict=True):
            layer.stateful = flag
            layer.reset_states()
    return prime + decode(out, vocab)
