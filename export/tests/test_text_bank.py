import numpy as np
import pytest

from art_export.text_bank import DEFAULT_TEMPLATES, build_text_bank, prompts


def test_prompts_are_class_major():
    p = prompts(["a", "b"], ["x {label}", "y {label}"])
    assert p == ["x a", "y a", "x b", "y b"]
    with pytest.raises(ValueError, match="placeholder"):
        prompts(["a"], ["no placeholder"])


def test_minilm_bank_is_real_and_deterministic():
    labels = ["salto backward tucked", "salto backward piked", "salto forward tucked"]
    bank = build_text_bank(labels)
    assert bank.embeddings.shape == (3, len(DEFAULT_TEMPLATES), 384)
    np.testing.assert_allclose(np.linalg.norm(bank.embeddings, axis=-1), 1.0, atol=1e-5)
    again = build_text_bank(labels)
    np.testing.assert_allclose(bank.embeddings, again.embeddings, atol=1e-6)
    # the same label under different templates is closer than different labels
    e = bank.embeddings
    same = float(e[0, 0] @ e[0, 1])
    assert same > 0.5
    assert float(e[0, 0] @ e[1, 0]) < 0.999
    assert bank.encoder == "sentence-transformers/all-MiniLM-L6-v2"


def test_open_clip_weights_must_exist(tmp_path):
    with pytest.raises((RuntimeError, FileNotFoundError)):
        build_text_bank(["a"], open_clip_weights=tmp_path / "missing.bin")
