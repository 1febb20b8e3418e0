"""return_state and initial_state on RNN, LSTM, GRU and Bidirectional in the functional API.

The gradient checks run the whole graph (sequence and initial states in, outputs and final states out) against
finite differences, so the gradients that reach the initial states and flow out of the final states are both
checked, with and without padding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nn.support import TOLERANCE
from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.gradcheck import check_layer

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
STATES = {"RNN": 1, "LSTM": 2, "GRU": 1}
SEEDS = [0, 1]


def _perturbed(model: nn.Network, shapes: list[tuple[int, ...]], seed: int) -> nn.Network:
    model.input_grad = True  # also check the gradients reaching the inputs (the initial states)
    model.build(shapes)
    rng = np.random.default_rng(seed)
    for _, param, _ in model.parameters():
        param += 0.3 * rng.standard_normal(param.shape)
    return model


def assert_close(errors: dict[str, float]) -> None:
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] <= TOLERANCE, f"{worst}: relative error {errors[worst]:.2e} ({errors})"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("sequences", [False, True])
def test_states_in_and_out_are_gradient_checked(kind: str, sequences: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch, time, features, units = 3, 4, 2, 3
    count = STATES[kind]
    x = nn.Input((time, features))
    starts = [nn.Input((units,)) for _ in range(count)]
    out, *finals = LAYERS[kind](units, return_sequences=sequences, return_state=True)(x, initial_state=starts)
    flat = nn.Flatten()(out) if sequences else out
    model = nn.Model([x, *starts], nn.Concatenate()([flat, *finals]), seed=seed, dtype="float64")
    _perturbed(model, [(time, features)] + [(units,)] * count, seed)
    values = [rng.standard_normal((batch, time, features))] + [rng.standard_normal((batch, units)) for _ in finals]
    errors = check_layer(model, values)
    assert {f"x{k}" for k in range(1 + count)} <= set(errors)
    assert_close(errors)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_masked_states_are_those_after_the_last_real_step(kind: str, seed: int) -> None:
    """Padded ids (mask_zero): the final state stops at each sequence's last real step; gradients hold too."""
    rng = np.random.default_rng(seed)
    batch, time, units = 4, 5, 3
    ids_in = nn.Input((time,))
    start = [nn.Input((units,)) for _ in range(STATES[kind])]
    embedded = nn.Embedding(7, 2, mask_zero=True)(ids_in)
    out, *finals = LAYERS[kind](units, return_state=True)(embedded, initial_state=start)
    model = nn.Model([ids_in, *start], nn.Concatenate()([out, *finals]), seed=seed, dtype="float64")
    _perturbed(model, [(time,)] + [(units,)] * len(start), seed)
    ids = rng.integers(1, 7, (batch, time))
    ids[0, 3:] = 0
    ids[2, 1:] = 0
    states = [rng.standard_normal((batch, units)) for _ in start]
    assert_close(check_layer(model, [ids, *states]))
    # the same sequence without its padding ends in the same state
    trimmed = model.forward([ids[:1, :3], *(s[:1] for s in states)])
    padded = model.forward([ids[:1], *(s[:1] for s in states)])
    np.testing.assert_allclose(padded, trimmed, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_encoder_states_start_a_decoder(kind: str, seed: int) -> None:
    """Sequence to sequence: gradients reach the encoder only through the states it hands the decoder."""
    rng = np.random.default_rng(seed)
    source, target = nn.Input((4, 3)), nn.Input((3, 2))
    _, *states = LAYERS[kind](5, return_state=True, name="encoder")(source)
    decoded = LAYERS[kind](5, return_sequences=True, name="decoder")(target, initial_state=states)
    model = nn.Model([source, target], nn.Dense(2)(decoded), seed=seed, dtype="float64")
    _perturbed(model, [(4, 3), (3, 2)], seed)
    errors = check_layer(model, [rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 2))])
    assert any(name.startswith("param/encoder/") and value >= 0 for name, value in errors.items())
    assert_close(errors)
    model.compile(nn.Adam(0.01), "mse")
    before = {k: v.copy() for k, v in model.get_weights().items() if k.startswith("encoder/")}
    x = [rng.standard_normal((8, 4, 3)), rng.standard_normal((8, 3, 2))]
    model.fit(x, rng.standard_normal((8, 3, 2)), epochs=1, verbose=0)
    assert all(not np.allclose(before[k], v) for k, v in model.get_weights().items() if k in before)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_bidirectional_states(kind: str, merge: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = STATES[kind]
    x = nn.Input((4, 2))
    starts = [nn.Input((3,)) for _ in range(2 * count)]
    wrapped = nn.Bidirectional(LAYERS[kind](3, return_state=True), merge_mode=merge)
    out, *finals = wrapped(x, initial_state=starts)
    assert len(finals) == 2 * count
    model = nn.Model([x, *starts], nn.Concatenate()([out, *finals]), seed=seed, dtype="float64")
    _perturbed(model, [(4, 2)] + [(3,)] * len(starts), seed)
    values = [rng.standard_normal((2, 4, 2))] + [rng.standard_normal((2, 3)) for _ in starts]
    assert_close(check_layer(model, values))
    # Keras's layout: the forward layer's final h is the forward half of a concatenated output
    if merge == "concat":
        result = model.forward(values)
        np.testing.assert_allclose(result[:, :3], result[:, 6 : 6 + 3], rtol=1e-12)


def test_lstm_states_agree_with_the_outputs_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = nn.Input((5, 2))
    seq, h, c = nn.LSTM(4, return_sequences=True, return_state=True, name="lstm")(x)
    model = nn.Model(x, [seq, h, c], seed=0)
    assert model.output_names == ["lstm_output", "lstm_state_h", "lstm_state_c"]
    data = rng.standard_normal((3, 5, 2)).astype(np.float32)
    got = model.predict(data)
    np.testing.assert_array_equal(got[0][:, -1], got[1])  # the last output is the final h
    plain = nn.Sequential([nn.LSTM(4, return_sequences=True, name="lstm")], seed=0)
    plain.build((5, 2))
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(plain.predict(data), got[0], rtol=1e-6)
    model.compile("adam", ["mse", None, None])
    folder = model.save(tmp_path / "m")
    loaded = nn.load_model(folder)
    for a, b in zip(loaded.predict(data), got, strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_uses_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="functional API"):
        nn.Sequential([nn.LSTM(3, return_state=True)])
    x = nn.Input((4, 2))
    with pytest.raises(InputError, match="takes 2 initial state"):
        nn.LSTM(3)(x, initial_state=[nn.Input((3,))])
    start = nn.Input((5,))
    bad = nn.GRU(3)(x, initial_state=[start])
    with pytest.raises(InputError, match=r"initial states have shape \(3,\)"):
        nn.Model([x, start], bad).build([(4, 2), (5,)])
