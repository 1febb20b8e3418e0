"""Training end to end: XOR, digits, an LSTM on the adding and copy tasks, and the training machinery."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from sudoless import nn
from sudoless.errors import InputError, StateError
from sudoless.nn import data


def test_xor_is_solved() -> None:
    ds = data.xor()
    model = nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(2)], seed=0)
    model.compile(nn.Adam(0.05), "softmax_cross_entropy", ["accuracy"])
    history = model.fit(ds.x_train, ds.y_train, epochs=300, batch_size=4, verbose=0)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.01
    assert list(model.predict(ds.x_train).argmax(-1)) == [0, 1, 1, 0]


def test_digits_mlp_reaches_97_percent() -> None:
    ds = data.digits(validation_fraction=0.16, test_fraction=0.2, seed=0)
    model = nn.Sequential(
        [
            nn.Dense(256, kernel_initializer="he_normal"),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Dense(128, kernel_initializer="he_normal"),
            nn.ReLU(),
            nn.Dense(10),
        ],
        seed=0,
    )
    model.compile(nn.AdamW(2e-3, weight_decay=1e-4), "softmax_cross_entropy", ["accuracy"])
    model.fit(
        ds.x_train,
        ds.y_train,
        epochs=60,
        batch_size=32,
        validation_data=(ds.x_val, ds.y_val),
        callbacks=[nn.EarlyStopping(patience=10)],
        verbose=0,
    )
    scores = model.evaluate(ds.x_test, ds.y_test)
    assert scores["accuracy"] >= 0.97, scores


def test_lstm_learns_the_adding_problem() -> None:
    """Predicting the mean gives MSE ≈ 0.17 (the target's variance); the LSTM must get far below that."""
    x, y = data.adding_problem(3000, 30, seed=0)
    xv, yv = data.adding_problem(500, 30, seed=1)
    model = nn.Sequential([nn.LSTM(32), nn.Dense(1)], seed=0)
    model.compile(nn.Adam(1e-2, global_clipnorm=1.0), "mse")
    history = model.fit(x, y, epochs=10, batch_size=50, validation_data=(xv, yv), verbose=0)
    assert float(np.var(yv)) > 0.15
    assert history["val_loss"][-1] < 0.01, history["val_loss"]


def test_lstm_learns_the_copy_task() -> None:
    """Recall six symbols out of six after a delimiter; chance on the recall steps is 1/6."""
    x, y = data.copy_task(2000, 6, symbols=6, seed=0)
    xv, yv = data.copy_task(400, 6, symbols=6, seed=1)
    model = nn.Sequential([nn.Embedding(8, 16), nn.LSTM(64, return_sequences=True), nn.Dense(8)], seed=0)
    model.compile(nn.Adam(1e-2, global_clipnorm=1.0), "softmax_cross_entropy", ["accuracy"])
    model.fit(x, y, epochs=12, batch_size=50, verbose=0)
    recall = (model.predict(xv).argmax(-1)[:, 7:] == yv[:, 7:]).mean()
    assert recall > 0.6, recall


def test_truncated_bptt_trains_long_sequences_and_restores_statefulness() -> None:
    x, y = data.copy_task(200, 3, symbols=4, seed=0)
    x, y = np.tile(x, (1, 4)), np.tile(y, (1, 4))
    lstm = nn.LSTM(16, return_sequences=True)
    model = nn.Sequential([nn.Embedding(6, 8), lstm, nn.Dense(6)], seed=0)
    model.compile(nn.Adam(1e-2), "softmax_cross_entropy")
    steps_before = model.optimizer.iterations  # type: ignore[union-attr]
    history = model.fit(x, y, epochs=3, batch_size=50, tbptt=7, verbose=0)
    assert model.optimizer.iterations - steps_before == 3 * 4 * 4  # type: ignore[union-attr]
    assert history["loss"][-1] < history["loss"][0]
    assert lstm.stateful is False and lstm._state is None


def test_stateful_layer_carries_state_between_calls() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 3))
    model = nn.Sequential([nn.GRU(5, return_sequences=True)], seed=0)
    whole = model.predict(x)
    model.set_stateful(True)
    model.reset_states()
    pieces = np.concatenate([model.predict(x[:, :3]), model.predict(x[:, 3:])], axis=1)
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-6)


def test_masked_steps_do_not_change_the_result() -> None:
    """Padding (id 0 with mask_zero) leaves the final state and the masked loss exactly as without it."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 9, (3, 5))
    padded = np.concatenate([ids, np.zeros((3, 4), np.int64)], axis=1)
    layers = lambda: [nn.Embedding(9, 4, mask_zero=True), nn.LSTM(6), nn.Dense(2)]  # noqa: E731
    short = nn.Sequential(layers(), seed=1, dtype="float64").predict(ids)
    long = nn.Sequential(layers(), seed=1, dtype="float64").predict(padded)
    np.testing.assert_allclose(short, long, rtol=1e-12)


def test_same_seed_gives_identical_weights_and_training() -> None:
    ds = data.digits(seed=0)

    def train() -> nn.Network:
        model = nn.Sequential([nn.Dense(32), nn.ReLU(), nn.Dropout(0.3), nn.Dense(10)], seed=7)
        model.compile(nn.Adam(1e-3), "softmax_cross_entropy")
        model.fit(ds.x_train[:300], ds.y_train[:300], epochs=2, batch_size=32, verbose=0)
        return model

    a, b = train(), train()
    assert np.array_equal(a.flat_params, b.flat_params)
    c = nn.Sequential([nn.Dense(32), nn.ReLU(), nn.Dropout(0.3), nn.Dense(10)], seed=8)
    c.build((64,))
    assert not np.array_equal(a.flat_params, c.flat_params)


def test_save_and_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 10, (6, 7))
    model = nn.Sequential(
        [
            nn.Embedding(10, 4),
            nn.Bidirectional(nn.LSTM(5, return_sequences=True)),
            nn.LayerNorm(),
            nn.GRU(6),
            nn.Dense(3),
        ],
        seed=3,
    )
    model.compile(nn.AdamW(1e-3, global_clipnorm=1.0), "softmax_cross_entropy", ["accuracy"])
    y = rng.integers(0, 3, 6)
    model.fit(ids, y, epochs=2, batch_size=3, verbose=0)
    model.save(tmp_path / "m")
    loaded = nn.load_model(tmp_path / "m")
    assert np.array_equal(loaded.predict(ids), model.predict(ids))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()  # type: ignore[union-attr]
    model.fit(ids, y, epochs=1, batch_size=3, verbose=0, shuffle=False)
    loaded.fit(ids, y, epochs=1, batch_size=3, verbose=0, shuffle=False)
    assert np.array_equal(loaded.flat_params, model.flat_params), "resumed training must continue identically"


def test_functional_model_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    inputs = nn.Input((5,))
    hidden = nn.ReLU()(nn.Dense(8)(inputs))
    out = nn.Dense(2)(nn.Add()([hidden, nn.Dense(8)(inputs)]))
    model = nn.Model(inputs, out, seed=2)
    x = rng.standard_normal((4, 5))
    expected = model.predict(x)
    model.save(tmp_path / "f", include_optimizer=False)
    assert np.array_equal(nn.load_model(tmp_path / "f").predict(x), expected)


def test_early_stopping_restores_best_weights_and_checkpoints(tmp_path) -> None:
    ds = data.digits(seed=0)
    model = nn.Sequential([nn.Dense(64), nn.ReLU(), nn.Dense(10)], seed=0)
    model.compile(nn.SGD(0.5, momentum=0.9, nesterov=True), "softmax_cross_entropy", ["accuracy"])
    stop = nn.EarlyStopping(monitor="val_loss", patience=2)
    save = nn.ModelCheckpoint(tmp_path / "best", monitor="val_accuracy", save_best_only=True)
    history = model.fit(
        ds.x_train,
        ds.y_train,
        epochs=40,
        batch_size=16,
        validation_data=(ds.x_val, ds.y_val),
        callbacks=[stop, save],
        verbose=0,
    )
    assert stop.stopped_epoch is not None and len(history.epoch) < 40
    best = min(history["val_loss"])
    assert model.evaluate(ds.x_val, ds.y_val)["loss"] == pytest.approx(best, rel=1e-5)
    assert save.saved and (tmp_path / "best" / "weights.npz").exists()


@pytest.mark.parametrize(
    "optimizer",
    [
        nn.SGD(0.1),
        nn.SGD(0.05, momentum=0.9),
        nn.SGD(0.05, momentum=0.9, nesterov=True),
        nn.RMSprop(0.01),
        nn.Adam(0.05),
        nn.AdamW(0.05, weight_decay=0.01),
        nn.SGD(0.1, weight_decay=1e-3),
        nn.Adam(0.05, clipvalue=0.5),
    ],
    ids=["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "sgd-l2", "adam-clipvalue"],
)
def test_optimizers_fit_a_linear_regression(optimizer: nn.Optimizer) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3
    model = nn.Sequential([nn.Dense(1)], seed=0)
    model.compile(optimizer, "mse")
    history = model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    assert history["loss"][-1] < 0.01 * history["loss"][0]


def test_clipping_by_global_norm_keeps_direction() -> None:
    params = np.zeros(4, np.float32)
    grads = np.array([3.0, 4.0, 0.0, 0.0], np.float32)
    opt = nn.SGD(1.0, global_clipnorm=1.0)
    opt.step(params, grads, decayed=0)
    np.testing.assert_allclose(params, [-0.6, -0.8, 0, 0], rtol=1e-6)
    assert opt.last_grad_norm == pytest.approx(5.0)


def test_clipnorm_clips_each_tensor_and_global_clipnorm_all_together() -> None:
    """Keras's meanings: clipnorm bounds each parameter tensor's gradient norm, global_clipnorm the whole one."""
    model = nn.Sequential([nn.Dense(2, name="a"), nn.Dense(1, name="b")], seed=0, dtype="float64")
    model.compile(nn.SGD(1.0, clipnorm=1.0), "mse")
    model.build((2,))
    params, grads = model.packed()
    start = params.copy()
    rng = np.random.default_rng(0)
    grads[...] = rng.standard_normal(grads.shape) * 3
    raw = {name: grads[part].copy() for name, (_, _, part) in model.slots.items()}
    optimizer = model.optimizer
    assert optimizer is not None
    optimizer.step(params, grads, model.decayed)
    for name, (_, _, part) in model.slots.items():
        norm = np.linalg.norm(raw[name])
        expected = raw[name] * min(1.0, 1.0 / (norm + 1e-12))
        np.testing.assert_allclose(start[part] - params[part], expected, rtol=1e-12, err_msg=name)
    assert optimizer.last_grad_norm == pytest.approx(np.linalg.norm(np.concatenate(list(raw.values()))))
    with pytest.raises(InputError, match="not both"):
        nn.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(InputError, match="positive"):
        nn.SGD(clipvalue=0)


def test_a_saved_clipnorm_from_before_global_clipnorm_stays_global(tmp_path: pathlib.Path) -> None:
    import json

    model = nn.Sequential([nn.Dense(2)], seed=0)
    model.compile(nn.SGD(0.1, clipnorm=2.0), "mse")
    model.build((3,))
    folder = model.save(tmp_path / "m")
    loaded = nn.load_model(folder)
    assert loaded.optimizer is not None and loaded.optimizer.clipnorm == 2.0
    assert loaded.optimizer.global_clipnorm is None
    document = json.loads((folder / "architecture.json").read_text())
    del document["compile"]["optimizer"]["global_clipnorm"]  # as written before it existed
    (folder / "architecture.json").write_text(json.dumps(document))
    old = nn.load_model(folder)
    assert old.optimizer is not None and old.optimizer.clipnorm is None and old.optimizer.global_clipnorm == 2.0


def test_decoupled_weight_decay_touches_only_matrices() -> None:
    model = nn.Sequential([nn.Dense(3)], seed=0)
    model.build((2,))
    model.compile(nn.AdamW(0.1, weight_decay=0.5), "mse")
    before = model.get_weights()
    model.flat_grads[...] = 0  # type: ignore[index]
    model.optimizer.step(model.flat_params, model.flat_grads, model.decayed)  # type: ignore[union-attr,arg-type]
    after = model.get_weights()
    np.testing.assert_allclose(after["dense_0/W"], before["dense_0/W"] * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(after["dense_0/b"], before["dense_0/b"])


def test_schedules() -> None:
    assert nn.StepDecay(1.0, step_size=10, gamma=0.5)(25) == 0.25
    assert nn.ExponentialDecay(1.0, decay_steps=10, decay_rate=0.1)(10) == pytest.approx(0.1)
    cosine = nn.CosineDecay(1.0, total_steps=110, warmup_steps=10, min_learning_rate=0.1)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(60) == pytest.approx(0.55) and cosine(500) == pytest.approx(0.1)
    opt = nn.SGD({"name": "step", "learning_rate": 0.1, "step_size": 1, "gamma": 0.5})
    opt.step(np.zeros(1), np.zeros(1), 0)
    assert opt.learning_rate == pytest.approx(0.05)


def test_initialisers() -> None:
    model = nn.Sequential([nn.LSTM(8)], seed=0)
    model.build((5, 3))
    lstm = model.layers[0]
    u = lstm.params["U"].astype(np.float64)
    for gate in range(4):
        block = u[:, gate * 8 : (gate + 1) * 8]
        np.testing.assert_allclose(block.T @ block, np.eye(8), atol=1e-5)
    bias = lstm.params["b"]
    assert np.all(bias[16:24] == 1.0) and np.all(bias[:16] == 0) and np.all(bias[24:] == 0)
    he = nn.Sequential([nn.Dense(400, kernel_initializer="he_normal")], seed=0)
    he.build((1000,))
    assert np.std(he.layers[0].params["W"]) == pytest.approx(np.sqrt(2 / 1000), rel=0.02)


def test_metrics_and_perplexity() -> None:
    model = nn.Sequential([nn.Dense(4)], seed=0)
    model.compile("sgd", "softmax_cross_entropy", ["accuracy", "perplexity"])
    x, y = np.eye(4, dtype=np.float32), np.arange(4)
    scores = model.evaluate(x, y)
    assert scores["perplexity"] == pytest.approx(np.exp(scores["loss"]), rel=1e-6)
    assert 0.0 <= scores["accuracy"] <= 1.0


def test_history_plot(tmp_path) -> None:
    from sudoless.nn.plot import plot_history

    target = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}, tmp_path / "h.png")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_user_errors() -> None:
    with pytest.raises(StateError):
        nn.Sequential([nn.Dense(2)]).fit(np.zeros((2, 2)), np.zeros(2), verbose=0)
    model = nn.Sequential([nn.Dense(2)])
    model.compile("sgd", "softmax_cross_entropy")
    with pytest.raises(InputError, match="class labels"):
        model.fit(np.zeros((2, 3)), np.array([0, 5]), verbose=0)
    with pytest.raises(InputError, match="unknown optimizer"):
        model.compile("adagrad")
    dense = nn.Dense(2)
    with pytest.raises(InputError, match="twice"):
        nn.Sequential([dense, dense])
