"""Data sets and the example configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sudoless.errors import InputError
from sudoless.nn import data
from sudoless.nn.runs import build_model, load_config, load_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"


def test_markdown_plays_become_script_text() -> None:
    markdown = (
        "# Hamlet\n\n## ACT I\n\n### SCENE I. Elsinore.\n\n_Enter BERNARDO_\n\n**BERNARDO**  \n"
        "Who's there?  \nStand \\[aside\\].\n\n**FRANCISCO**  \nNay, answer me.\n"
    )
    expected = "BERNARDO:\nWho's there?\nStand [aside].\n\nFRANCISCO:\nNay, answer me.\n\n"
    assert data.markdown_to_text(markdown) == expected


def test_windows_predict_the_next_character() -> None:
    ids = np.arange(10)
    x, y = data.windows(ids, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(InputError):
        data.windows(ids, 10)


def test_shakespeare_holds_out_whole_plays() -> None:
    ds = data.shakespeare(seq_length=50, validation_plays=["macbeth"], plays=["othello", "macbeth"], max_chars=30_000)
    assert ds.info["train_plays"] == ["othello"] and ds.info["validation_plays"] == ["macbeth"]
    assert ds.x_train.shape[1] == 50 and ds.vocab is not None
    assert "OTHELLO:" in data.decode(ds.x_train.reshape(-1), ds.vocab)
    assert "First Witch:" in data.decode(ds.x_val.reshape(-1), ds.vocab)
    assert len(data.play_names()) == 38
    with pytest.raises(InputError, match="no play|unknown play"):
        data.shakespeare(validation_plays=["hamlet-ii"])


@pytest.mark.parametrize("config", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_configs_build(config: Path, tmp_path: Path) -> None:
    loaded = load_config(config)
    options = dict(loaded["data"])
    if options["source"] == "shakespeare":
        options["max_chars"] = 20_000
    if options["source"] == "mnist":  # the user supplies MNIST; stand-in IDX files of the same shape
        from nn.test_idx import write_mnist

        write_mnist(tmp_path / "mnist", train=50, test=10)
        options["path"] = str(tmp_path / "mnist")
    ds = load_data(options, seed=0)
    model = build_model(loaded, {"vocab": len(ds.vocab)} if ds.vocab else {})
    model.build(tuple(np.shape(ds.x_train)[1:]))
    out = model.predict(ds.x_train[:2])
    assert out.shape[0] == 2 and np.all(np.isfinite(out))


def test_shipped_digits_equal_scikit_learns_copy() -> None:
    pixels, labels = data.digits_arrays()
    assert pixels.shape == (1797, 64) and labels.shape == (1797,)
    assert pixels.min() == 0 and pixels.max() == 16 and sorted(set(labels.tolist())) == list(range(10))
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn absent: nothing to compare with")
    reference = sklearn_datasets.load_digits()
    assert pixels.dtype == reference.data.dtype and np.array_equal(pixels, reference.data)
    assert labels.dtype == reference.target.dtype and np.array_equal(labels, reference.target)


def test_digits_split_is_reproducible_and_covers_every_image() -> None:
    ds = data.digits(validation_fraction=0.16, test_fraction=0.2, seed=0)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (1150, 288, 359)
    assert ds.x_train.dtype == np.float32 and float(ds.x_train.max()) == 1.0
    again = data.digits(validation_fraction=0.16, test_fraction=0.2, seed=0)
    assert np.array_equal(ds.x_test, again.x_test) and np.array_equal(ds.y_train, again.y_train)
