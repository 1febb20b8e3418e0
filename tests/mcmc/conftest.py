"""Fixtures for the MCMC tests: the default English language model, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sudoless.mcmc.cipher.model import LanguageModel


@pytest.fixture(scope="session")
def english() -> LanguageModel:
    return LanguageModel.from_symspell()


@pytest.fixture(scope="session")
def english_file(english: LanguageModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lm") / "english.npz"
    english.save(path)
    return path
