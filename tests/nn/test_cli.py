"""``sudoless nn ...`` as users run it: the real console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SUDOLESS = Path(sys.executable).with_name("sudoless")


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)


def write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_xor_example_with_json_then_eval(tmp_path: Path) -> None:
    run = tmp_path / "xor-run"
    result = sudoless(tmp_path, "nn", "train", "examples/nn/xor.yaml", "--output", str(run), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "xor" and report["epochs"] == 300
    assert report["metrics"]["accuracy"] == 1.0 and report["metrics"]["test_accuracy"] == 1.0
    for name in ("architecture.json", "weights.npz", "config.yaml", "history.json", "history.png", "metrics.json"):
        assert (run / name).exists(), name
    scored = sudoless(tmp_path, "nn", "eval", str(run), "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["metrics"]["accuracy"] == 1.0


def test_train_a_tiny_character_model_and_sample(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question.\n" * 60)
    config = write(
        tmp_path / "chars.yaml",
        {
            "name": "tiny-chars",
            "seed": 1,
            "data": {"source": "text", "path": "corpus.txt", "seq_length": 20},
            "model": [
                {"Embedding": {"input_dim": "vocab", "output_dim": 8}},
                {"LSTM": {"units": 24, "return_sequences": True}},
                {"Dense": {"units": "vocab"}},
            ],
            "metrics": ["perplexity"],
            "optimizer": {"name": "adam", "learning_rate": 0.02, "global_clipnorm": 5},
            "training": {"epochs": 8, "batch_size": 16},
        },
    )
    run = tmp_path / "chars-run"
    result = sudoless(tmp_path, "nn", "train", str(config), "-o", str(run), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["val_loss"] < 1.0, metrics  # chance is ln(17) ≈ 2.8
    sample = sudoless(tmp_path, "nn", "sample", str(run), "--prime", "to be", "-n", "40", "--json")
    assert sample.returncode == 0, sample.stderr
    text = json.loads(sample.stdout)["text"]
    assert text.startswith("to be") and len(text) == 45
    assert "to be" in text[5:] or "question" in text


def test_default_run_directory_is_under_sudoless_home(tmp_path: Path) -> None:
    result = sudoless(tmp_path, "nn", "train", "examples/nn/xor.yaml", "--epochs", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)["output"]) == tmp_path / "nn" / "runs" / "xor"


BAD_CONFIGS = {
    "unknown-key": ("data: {source: xor}\nmodel: [Dense]\noptimiser: adam\n", ["unknown key(s) optimiser"]),
    "bad-yaml": ("data: {source: xor\nmodel: [", ["invalid YAML"]),
    "unknown-layer": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\n  - Convolution: {}\n",
        ["model[1]", "unknown layer"],
    ),
    "bad-layer-option": ("data: {source: xor}\nmodel:\n  - Dense: {units: 2, size: 3}\n", ["model[0]", "size"]),
    "unknown-data": ("data: {source: cifar10}\nmodel: [ReLU]\n", ["unknown data source 'cifar10'"]),
    "mnist-without-path": ("data: {source: mnist}\nmodel: [ReLU]\n", ["data source mnist needs a 'path'"]),
    "unknown-optimizer": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\noptimizer: {name: adagrad}\n",
        ["unknown optimizer"],
    ),
    "unknown-loss": ("data: {source: xor}\nmodel:\n  - Dense: {units: 2}\nloss: hinge\n", ["unknown loss 'hinge'"]),
    "not-a-mapping": ("- just a list\n", ["expected a mapping"]),
    "unknown-callback": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\ntraining: {callbacks: [WandbLogger]}\n",
        ["training.callbacks[0]", "unknown callback 'WandbLogger'"],
    ),
    "bad-callback-option": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\ntraining:\n  callbacks:\n"
        "    - ReduceLROnPlateau: {factor: 2}\n",
        ["training.callbacks[0]", "factor"],
    ),
    "bad-class-weight": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\ntraining: {class_weight: [1, 2]}\n",
        ["training.class_weight"],
    ),
    "bad-validation-split": (
        "data: {source: xor}\nmodel:\n  - Dense: {units: 2}\ntraining: {validation_split: 1.5}\n",
        ["training.validation_split"],
    ),
}


def test_fit_options_and_callbacks_from_the_config(tmp_path: Path) -> None:
    """class_weight, validation_split, metrics and callbacks by name: files in the run directory, val_ scores."""
    config = write(
        tmp_path / "digits.yaml",
        {
            "name": "digits-options",
            "data": {"source": "digits"},
            "model": [{"Dense": {"units": 32}}, "ReLU", {"Dense": {"units": 10}}],
            "metrics": ["accuracy", "f1", "auc", {"name": "top_k_categorical_accuracy", "k": 3}],
            "optimizer": {"name": "adam", "learning_rate": 0.01, "global_clipnorm": 5},
            "training": {
                "epochs": 3,
                "class_weight": {0: 2.0, 1: 0.5},
                "validation_split": 0.2,
                "callbacks": ["CSVLogger", {"TensorBoard": {"log_dir": "tb"}}, {"ReduceLROnPlateau": {"patience": 1}}],
            },
        },
    )
    run = tmp_path / "run"
    result = sudoless(tmp_path, "nn", "train", str(config), "--output", str(run), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert {"val_loss", "val_f1", "val_auc", "val_top_k_categorical_accuracy", "test_accuracy"} <= set(metrics)
    assert metrics["val_top_k_categorical_accuracy"] >= metrics["val_accuracy"]
    rows = (run / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and "val_auc" in rows[0] and len(rows) == 4
    assert list((run / "tb" / "train").glob("events.out.tfevents.*"))
    assert list((run / "tb" / "validation").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("case", ["unknown-key", "bad-yaml", "unknown-layer"])
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    content, fragments = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    assert_one_line_error(sudoless(tmp_path, "nn", "train", str(config), "--json"), str(config), *fragments)


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_messages(tmp_path: Path, case: str) -> None:
    """Every bad config raises an InputError naming the file (the CLI prints it as the one line above)."""
    from sudoless.errors import InputError
    from sudoless.nn.runs import load_config, train_run

    content, fragments = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(InputError) as caught:
        train_run(load_config(config), output=tmp_path / "run", verbose=0)
    message = str(caught.value)
    assert "\n" not in message and str(config) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_files_are_one_line_errors(tmp_path: Path) -> None:
    assert_one_line_error(sudoless(tmp_path, "nn", "train", str(tmp_path / "nope.yaml")), "no such config file")
    assert_one_line_error(sudoless(tmp_path, "nn", "eval", str(tmp_path)), "architecture.json")
    assert_one_line_error(sudoless(tmp_path, "nn", "sample", str(tmp_path)), "architecture.json")


def test_sampling_a_model_without_vocabulary_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "xor-run"
    assert sudoless(tmp_path, "nn", "train", "examples/nn/xor.yaml", "-o", str(run), "--epochs", "1").returncode == 0
    assert_one_line_error(sudoless(tmp_path, "nn", "sample", str(run)), "not a character model")


def test_help_does_not_import_numpy() -> None:
    code = (
        "import sys; from sudoless.cli import register_commands; register_commands(); "
        "print(any(m == 'numpy' or m.startswith('sudoless.nn') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_digits_example_trains_where_scikit_learn_cannot_be_imported(tmp_path: Path) -> None:
    """The README promises NumPy only: the digits ship with the package, so blocking scikit-learn changes nothing."""
    # A None entry in sys.modules makes every `import sklearn...` raise ImportError, as if it were not installed.
    # The wrapper first proves the block works (exit 99 otherwise), then runs the CLI with the remaining arguments.
    code = (
        "import sys\nsys.modules['sklearn'] = None\n"
        "try:\n    import sklearn.datasets\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit(99)\n"
        "from sudoless.cli import main\nsys.argv = ['sudoless', *sys.argv[1:]]\nmain()\n"
    )
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path), "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code, "nn", "train", "examples/nn/digits.yaml", "-o", str(tmp_path / "run"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["test_accuracy"] >= 0.97, metrics


def test_fit_options_that_spark_does_not_take_yet_are_refused_there(tmp_path: Path) -> None:
    from sudoless.errors import InputError
    from sudoless.nn.runs import load_config, train_run

    config = tmp_path / "weighted.yaml"
    config.write_text("data: {source: xor}\nmodel:\n  - Dense: {units: 2}\ntraining: {class_weight: {0: 2}}\n")
    with pytest.raises(InputError, match=r"weighted.yaml: training.class_weight is not supported on Spark"):
        train_run(load_config(config), output=tmp_path / "run", verbose=0, fit=lambda *args, **options: None)
