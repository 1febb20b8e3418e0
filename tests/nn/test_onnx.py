"""ONNX export and import: every layer kind and a few whole models, run in onnxruntime.

Each case builds a model with random weights (and random moving statistics for BatchNormalization), exports
it, checks the file with ``onnx.checker``, runs it in onnxruntime and compares with sudoless's own forward pass
in float32; then imports the file back and compares the imported model's forward pass too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.layers.base import Layer

TOLERANCE = 1e-5
REPO = Path(__file__).resolve().parents[2]
SUDOLESS = Path(sys.executable).with_name("sudoless")


def randomise(model: nn.Network, seed: int = 0) -> nn.Network:
    """Move every parameter away from its initial value (zero biases, unit gains) and give each
    BatchNormalization moving statistics of its own, so that a swapped gate or a lost bias shows."""
    rng = np.random.default_rng(seed)
    for _, param, _ in model.parameters():
        param += (0.3 * rng.standard_normal(param.shape)).astype(param.dtype)
    for _, layer, key in model.state_slots():
        value = layer.state[key]
        value[...] = rng.uniform(0.5, 1.5, value.shape) if "variance" in key else 0.3 * rng.standard_normal(value.shape)
    return model


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    s = session(path)
    feed = {}
    for meta, x in zip(s.get_inputs(), xs, strict=True):
        feed[meta.name] = x.astype(np.int64) if meta.type == "tensor(int64)" else x.astype(np.float32)
    return [np.asarray(out) for out in s.run(None, feed)]


def as_list(value: Any) -> list[np.ndarray]:
    return list(value) if isinstance(value, list) else [value]


def round_trip(
    model: nn.Network, x: Any, path: Path, opset: int | None = None, reimport: bool = True
) -> nn.Network | None:
    """Export ``model`` (built on ``x``) and compare onnxruntime's outputs, then the re-imported model's."""
    shapes = [tuple(a.shape[1:]) for a in x] if isinstance(x, list) else tuple(x.shape[1:])
    if not model.built:
        model.build(shapes)
    randomise(model)
    want = as_list(model.predict(x))
    written = model.to_onnx(path, opset=opset)
    assert written == path and path.is_file()
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    got = run_onnx(path, as_list(x))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=TOLERANCE, atol=TOLERANCE)
    if not reimport:
        return None
    back = nn.load_onnx(path)
    again = as_list(back.predict(x))
    for a, w in zip(again, want, strict=True):
        np.testing.assert_allclose(a, w, rtol=TOLERANCE, atol=TOLERANCE)
    return back


def data(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ids(shape: tuple[int, ...], vocab: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, shape).astype(np.float32)


VEC, SEQ, IMG = (3, 6), (3, 7, 4), (2, 9, 10, 4)

# name -> (layers, input shape); each is exported, run in onnxruntime and imported back.
LAYER_CASES: dict[str, tuple[Callable[[], list[Layer]], tuple[int, ...]]] = {
    "dense-gemm": (lambda: [nn.Dense(5)], VEC),
    "dense-no-bias": (lambda: [nn.Dense(5, use_bias=False)], VEC),
    "dense-time-distributed": (lambda: [nn.Dense(5, activation="tanh")], SEQ),
    "dense-activation-softmax": (lambda: [nn.Dense(5, activation="softmax")], VEC),
    "relu": (lambda: [nn.Dense(5), nn.ReLU()], VEC),
    "sigmoid": (lambda: [nn.Sigmoid()], VEC),
    "tanh": (lambda: [nn.Tanh()], SEQ),
    "leaky-relu": (lambda: [nn.LeakyReLU(0.2)], VEC),
    "softmax-last": (lambda: [nn.Softmax()], SEQ),
    "softmax-time-axis": (lambda: [nn.Softmax(axis=1)], SEQ),
    "conv2d-valid": (lambda: [nn.Conv2D(5, 3)], IMG),
    "conv2d-same-strided": (lambda: [nn.Conv2D(5, 3, strides=2, padding="same", activation="relu")], IMG),
    "conv2d-dilated": (lambda: [nn.Conv2D(3, [3, 2], dilation_rate=[2, 1], padding="same")], IMG),
    "conv2d-groups": (lambda: [nn.Conv2D(6, 3, groups=2, strides=[2, 1], use_bias=False)], IMG),
    "conv1d-same": (lambda: [nn.Conv1D(5, 3, strides=2, padding="same")], SEQ),
    "conv1d-dilated-groups": (lambda: [nn.Conv1D(4, 2, dilation_rate=2, groups=2)], SEQ),
    "maxpool2d": (lambda: [nn.MaxPooling2D(2)], IMG),
    "maxpool2d-same": (lambda: [nn.MaxPooling2D(3, strides=2, padding="same")], IMG),
    "avgpool2d-same": (lambda: [nn.AveragePooling2D([2, 3], padding="same")], IMG),
    "maxpool1d": (lambda: [nn.MaxPooling1D(2)], SEQ),
    "avgpool1d-same": (lambda: [nn.AveragePooling1D(2, padding="same")], SEQ),
    "global-avg2d": (lambda: [nn.GlobalAveragePooling2D()], IMG),
    "global-max2d": (lambda: [nn.GlobalMaxPooling2D()], IMG),
    "global-avg1d": (lambda: [nn.GlobalAveragePooling1D()], SEQ),
    "global-max1d": (lambda: [nn.GlobalMaxPooling1D()], SEQ),
    "batchnorm-vector": (lambda: [nn.BatchNormalization()], VEC),
    "batchnorm-image": (lambda: [nn.Conv2D(3, 3), nn.BatchNormalization(momentum=0.9, epsilon=1e-4)], IMG),
    "batchnorm-sequence": (lambda: [nn.BatchNormalization()], SEQ),
    "layernorm": (lambda: [nn.LayerNorm()], VEC),
    "layernorm-sequence": (lambda: [nn.LayerNorm(epsilon=1e-3)], SEQ),
    "flatten": (lambda: [nn.Conv2D(3, 3), nn.Flatten()], IMG),
    "reshape": (lambda: [nn.Reshape([2, -1])], VEC),
    "permute": (lambda: [nn.Permute([2, 1]), nn.Dense(3)], SEQ),
    "permute-then-conv": (lambda: [nn.Permute([2, 1, 3]), nn.Conv2D(2, 3)], IMG),
    "dropout": (lambda: [nn.Dense(4), nn.Dropout(0.3)], VEC),
    "rnn": (lambda: [nn.RNN(5)], SEQ),
    "rnn-sequences-reverse": (lambda: [nn.RNN(5, return_sequences=True, reverse=True)], SEQ),
    "lstm": (lambda: [nn.LSTM(6)], SEQ),
    "lstm-sequences": (lambda: [nn.LSTM(6, return_sequences=True)], SEQ),
    "lstm-reverse": (lambda: [nn.LSTM(6, reverse=True)], SEQ),
    "gru": (lambda: [nn.GRU(5)], SEQ),
    "gru-sequences-reverse": (lambda: [nn.GRU(5, return_sequences=True, reverse=True)], SEQ),
    "bidirectional-lstm-concat": (lambda: [nn.Bidirectional(nn.LSTM(4, return_sequences=True))], SEQ),
    "bidirectional-gru-last": (lambda: [nn.Bidirectional(nn.GRU(4))], SEQ),
    "bidirectional-rnn-sum": (lambda: [nn.Bidirectional(nn.RNN(4, return_sequences=True), merge_mode="sum")], SEQ),
    "bidirectional-lstm-sum-last": (lambda: [nn.Bidirectional(nn.LSTM(3), merge_mode="sum")], SEQ),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_each_layer_matches_onnxruntime_and_comes_back(case: str, tmp_path: Path) -> None:
    layers, shape = LAYER_CASES[case]
    round_trip(nn.Sequential(layers()), data(shape), tmp_path / f"{case}.onnx")


def test_gelu_needs_opset_20_and_is_chosen_by_default(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Dense(4), nn.GELU()])
    round_trip(model, data(VEC), tmp_path / "gelu.onnx")
    assert onnx.load(str(tmp_path / "gelu.onnx")).opset_import[0].version == 20
    with pytest.raises(InputError, match=r"layer 'gelu_1' \(GELU\) needs opset 20"):
        model.to_onnx(tmp_path / "old.onnx", opset=17)
    assert not (tmp_path / "old.onnx").exists()


def test_an_older_opset_without_layer_norm(tmp_path: Path) -> None:
    round_trip(nn.Sequential([nn.Dense(4, activation="relu"), nn.Dense(2)]), data(VEC), tmp_path / "m.onnx", opset=13)
    assert onnx.load(str(tmp_path / "m.onnx")).opset_import[0].version == 13


@pytest.mark.parametrize("mode", ["mul", "ave"])
def test_bidirectional_mul_and_ave_export_but_do_not_import(mode: str, tmp_path: Path) -> None:
    model = nn.Sequential([nn.Bidirectional(nn.GRU(4, return_sequences=True), merge_mode=mode)])
    round_trip(model, data(SEQ), tmp_path / "bi.onnx", reimport=False)
    with pytest.raises(
        InputError, match=r"bi.onnx: ONNX import: node '.*' \(Mul\): no sudoless layer computes this operator"
    ):
        nn.load_onnx(tmp_path / "bi.onnx")


def test_embedding_takes_int64_ids(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Embedding(20, 6), nn.Dense(3)])
    x = ids((4, 7), 20)
    round_trip(model, x, tmp_path / "emb.onnx")
    assert session(tmp_path / "emb.onnx").get_inputs()[0].type == "tensor(int64)"


# -- whole models -----------------------------------------------------------------------------------------


def test_mlp(tmp_path: Path) -> None:
    model = nn.Sequential(
        [nn.Dense(32, activation="relu"), nn.Dropout(0.2), nn.Dense(16, activation="tanh"), nn.Dense(10)], seed=3
    )
    back = round_trip(model, data((8, 20)), tmp_path / "mlp.onnx")
    assert back is not None and back.count_params() == model.count_params()


def lenet5() -> nn.Sequential:
    return nn.Sequential(
        [
            nn.Conv2D(6, 5, padding="same", activation="relu"),
            nn.BatchNormalization(),
            nn.MaxPooling2D(2),
            nn.Conv2D(16, 5, activation="relu"),
            nn.BatchNormalization(),
            nn.AveragePooling2D(2),
            nn.Flatten(),
            nn.Dense(120, activation="relu"),
            nn.Dense(84, activation="relu"),
            nn.Dense(10),
        ],
        seed=5,
    )


def test_lenet5_with_batch_norm_after_training(tmp_path: Path) -> None:
    model = lenet5()
    x = data((16, 28, 28, 1))
    y = np.random.default_rng(2).integers(0, 10, 16)
    model.compile(nn.Adam(1e-3), "softmax_cross_entropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    back = round_trip(model, x[:4], tmp_path / "lenet5.onnx")
    assert back is not None
    graph = onnx.load(str(tmp_path / "lenet5.onnx")).graph
    ops = [node.op_type for node in graph.node]
    # One Transpose into channels-first at the input and one back before Flatten: none around each layer.
    assert ops.count("Transpose") == 2, ops
    assert [type(layer).__name__ for layer in back.layers if type(layer).__name__ == "Permute"] == []


def test_char_lstm(tmp_path: Path) -> None:
    model = nn.Sequential(
        [
            nn.Embedding(30, 8),
            nn.LSTM(16, return_sequences=True),
            nn.LSTM(16, return_sequences=True),
            nn.Dense(30),
        ]
    )
    round_trip(model, ids((3, 12), 30), tmp_path / "chars.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "chars.onnx")).graph.node]
    assert ops.count("LSTM") == 2 and ops.count("Transpose") == 2, ops  # time-first from the first to the last


def test_gru_stack(tmp_path: Path) -> None:
    model = nn.Sequential([nn.GRU(8, return_sequences=True), nn.LayerNorm(), nn.GRU(8), nn.Dense(3)])
    round_trip(model, data((4, 9, 5)), tmp_path / "gru.onnx")


def test_bidirectional_model(tmp_path: Path) -> None:
    model = nn.Sequential(
        [
            nn.Bidirectional(nn.LSTM(6, return_sequences=True)),
            nn.Bidirectional(nn.GRU(5)),
            nn.Dense(2),
        ]
    )
    round_trip(model, data((3, 8, 4)), tmp_path / "bi.onnx")


def test_two_inputs_two_outputs_and_a_shared_layer(tmp_path: Path) -> None:
    image = nn.Input((8, 8, 2), name="image")
    tabular = nn.Input((5,), name="tabular")
    other = nn.Input((5,), name="other")
    features = nn.Flatten()(nn.MaxPooling2D(2)(nn.Conv2D(4, 3, padding="same", activation="relu")(image)))
    shared = nn.Dense(6, activation="tanh", name="shared")
    joined = nn.Concatenate()([features, shared(tabular), shared(other)])
    kind = nn.Dense(3, name="kind")(joined)
    same = nn.Dense(1, name="same")(nn.Add()([shared(tabular), shared(other)]))
    model = nn.Model([image, tabular, other], [kind, same])
    x = [data((4, 8, 8, 2)), data((4, 5), 2), data((4, 5), 3)]
    back = round_trip(model, x, tmp_path / "multi.onnx")
    s = session(tmp_path / "multi.onnx")
    assert [i.name for i in s.get_inputs()] == ["image", "tabular", "other"]
    assert [o.name for o in s.get_outputs()] == ["kind", "same"]
    assert back is not None and back.output_names == ["kind", "same"]


def test_initial_and_final_states_of_recurrent_calls(tmp_path: Path) -> None:
    """initial_state becomes initial_h/initial_c, return_state the Y_h/Y_c outputs (split per direction)."""
    x, h0, c0 = nn.Input((6, 3), name="x"), nn.Input((4,), name="h0"), nn.Input((4,), name="c0")
    seq, h, c = nn.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    last, gh = nn.GRU(4, return_state=True, reverse=True)(seq, initial_state=h)
    both = nn.Bidirectional(nn.LSTM(3, return_state=True))(seq)
    model = nn.Model([x, h0, c0], [last, gh, c, *both])
    xs = [data((2, 6, 3)), data((2, 4), 2), data((2, 4), 3)]
    round_trip(model, xs, tmp_path / "states.onnx", reimport=False)
    assert len(session(tmp_path / "states.onnx").get_outputs()) == 3 + 5
    with pytest.raises(InputError, match=r"states.onnx: ONNX import: node '.*' \(Unsqueeze\): no sudoless layer"):
        nn.load_onnx(tmp_path / "states.onnx")


def test_channels_last_branches_meet_in_a_concat(tmp_path: Path) -> None:
    x = nn.Input((6, 6, 3))
    a = nn.Conv2D(4, 3, padding="same")(x)
    b = nn.Conv2D(2, 1)(x)
    merged = nn.Concatenate()([a, b])
    out = nn.GlobalAveragePooling2D()(nn.Add()([nn.Conv2D(6, 1)(x), merged]))
    round_trip(nn.Model(x, out), data((2, 6, 6, 3)), tmp_path / "branches.onnx")


def test_a_sequential_inside_a_model(tmp_path: Path) -> None:
    block = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(8)], name="block")
    x = nn.Input((5,))
    model = nn.Model(x, nn.Dense(2)(block(x)))
    round_trip(model, data((3, 5)), tmp_path / "nested.onnx")


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [nn.Conv1D(4, 3, padding="same", dilation_rate=2), nn.LSTM(5, return_sequences=True), nn.Dense(3)],
        lambda: [nn.Conv1D(4, 3, strides=2, padding="same"), nn.MaxPooling1D(2, padding="same")],
    ],
    ids=["dilated-then-lstm", "strided"],
)
def test_sequences_of_any_length(layers: Callable[[], list[Layer]], tmp_path: Path) -> None:
    """Built for (None, 4): one file serves every length, the pads being explicit where they can be."""
    model = nn.Sequential(layers())
    model.build((None, 4))
    randomise(model)
    path = model.to_onnx(tmp_path / "any.onnx")
    back = nn.load_onnx(path)
    for steps in (5, 8):
        x = data((2, steps, 4), steps)
        want = model.predict(x)
        np.testing.assert_allclose(run_onnx(path, [x])[0], want, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_allclose(back.predict(x), want, rtol=TOLERANCE, atol=TOLERANCE)


def test_a_strided_dilated_same_window_over_unknown_length_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Conv1D(4, 3, strides=2, dilation_rate=2, padding="same", name="c")])
    model.build((None, 4))
    with pytest.raises(InputError, match=r"^ONNX export: layer 'c' \(Conv1D\): a strided, dilated window"):
        model.to_onnx(tmp_path / "no.onnx")


# -- refusals -----------------------------------------------------------------------------------------------


class Doubling(Layer):
    def forward(self, x: np.ndarray, training: bool = False, mask: Any = None) -> np.ndarray:
        return 2 * x


def test_a_layer_onnx_cannot_express_is_named_in_one_line(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Dense(3), Doubling(name="twice")])
    model.build((4,))
    with pytest.raises(InputError) as caught:
        model.to_onnx(tmp_path / "no.onnx")
    assert str(caught.value) == (
        "ONNX export: layer 'twice' (Doubling) has no ONNX equivalent; docs/onnx.md lists the layers it can write"
    )
    assert not (tmp_path / "no.onnx").exists()


def test_masking_before_a_recurrent_layer_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Masking(), nn.LSTM(3)])
    model.build((5, 2))
    with pytest.raises(InputError, match=r"^ONNX export: layer 'masking_0' \(Masking\) masks time steps") as caught:
        model.to_onnx(tmp_path / "no.onnx")
    assert "\n" not in str(caught.value)


def test_an_opset_out_of_range_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Dense(3)])
    model.build((4,))
    with pytest.raises(InputError, match=r"opset 9 is not supported; choose one from 13 to \d+"):
        model.to_onnx(tmp_path / "no.onnx", opset=9)


def test_an_unbuilt_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="build or train the model"):
        nn.export_onnx(nn.Sequential([nn.Dense(3)]), tmp_path / "no.onnx")


def write_graph(path: Path, nodes: list[Any], inits: list[Any] = (), shape: list[Any] = ("batch", 4)) -> Path:  # type: ignore[assignment]
    graph = onnx.helper.make_graph(
        nodes,
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(shape))],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        list(inits),
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def test_import_refuses_an_unknown_operator_naming_node_and_op(tmp_path: Path) -> None:
    path = write_graph(tmp_path / "erf.onnx", [onnx.helper.make_node("Erf", ["x"], ["y"], name="odd")])
    with pytest.raises(InputError) as caught:
        nn.load_onnx(path)
    assert str(caught.value) == f"{path}: ONNX import: node 'odd' (Erf): no sudoless layer computes this operator"


def test_import_refuses_a_gru_with_the_reset_gate_before_the_product(tmp_path: Path) -> None:
    h, d = 3, 4
    inits = [
        onnx.numpy_helper.from_array(np.zeros((1, 3 * h, d), np.float32), "W"),
        onnx.numpy_helper.from_array(np.zeros((1, 3 * h, h), np.float32), "R"),
    ]
    nodes = [
        onnx.helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        onnx.helper.make_node("GRU", ["xt", "W", "R"], ["", "y"], name="gru", hidden_size=h),
    ]
    path = write_graph(tmp_path / "gru.onnx", nodes, inits, ["batch", 5, d])
    with pytest.raises(InputError, match=r"gru.onnx: ONNX import: node 'gru' \(GRU\): .*linear_before_reset=1\)$"):
        nn.load_onnx(path)


def test_import_reads_a_channels_first_model_with_permutes(tmp_path: Path) -> None:
    """An NCHW model as other frameworks write it: sudoless reads the image channels-first and permutes."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    dense = rng.standard_normal((3 * 4 * 4, 2)).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(dense, "d")]
    nodes = [
        onnx.helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        onnx.helper.make_node("Relu", ["c"], ["r"], name="relu"),
        onnx.helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        onnx.helper.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
        onnx.helper.make_node("Gemm", ["f", "d"], ["y"], name="dense"),
    ]
    path = write_graph(tmp_path / "nchw.onnx", nodes, inits, ["batch", 2, 8, 8])
    x = data((2, 2, 8, 8))
    want = run_onnx(path, [x])[0]
    model = nn.load_onnx(path)
    np.testing.assert_allclose(model.predict(x), want, rtol=TOLERANCE, atol=TOLERANCE)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Permute", "Conv2D", "ReLU", "MaxPooling2D", "Permute", "Flatten", "Dense"]


def test_import_refuses_a_file_that_is_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(InputError, match=r"bad.onnx: not an ONNX model"):
        nn.load_onnx(bad)
    with pytest.raises(InputError, match="no such ONNX file"):
        nn.load_onnx(tmp_path / "missing.onnx")


# -- the command line ---------------------------------------------------------------------------------------


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_cli_exports_a_saved_run(tmp_path: Path) -> None:
    model = nn.Sequential(
        [nn.Conv2D(4, 3, activation="relu"), nn.BatchNormalization(), nn.MaxPooling2D(2), nn.Flatten(), nn.Dense(3)]
    )
    x = data((3, 12, 12, 1))
    model.build((12, 12, 1))
    randomise(model)
    model.save(tmp_path / "run")
    out = tmp_path / "exported" / "model.onnx"
    result = sudoless(tmp_path, "nn", "export", str(tmp_path / "run"), "--onnx", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"run": str(tmp_path / "run"), "onnx": str(out), "parameters": model.count_params()}
    np.testing.assert_allclose(run_onnx(out, [x])[0], model.predict(x), rtol=TOLERANCE, atol=TOLERANCE)


def test_cli_refuses_a_run_it_cannot_export_in_one_line(tmp_path: Path) -> None:
    model = nn.Sequential([nn.Masking(), nn.GRU(3)])
    model.build((4, 2))
    model.save(tmp_path / "run")
    out = tmp_path / "model.onnx"
    result = sudoless(tmp_path, "nn", "export", str(tmp_path / "run"), "--onnx", str(out))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "layer 'masking_0' (Masking)" in result.stderr
    assert not out.exists()
    missing = sudoless(tmp_path, "nn", "export", str(tmp_path / "nowhere"), "--onnx", str(out))
    assert missing.returncode == 2 and "no architecture.json" in missing.stderr
