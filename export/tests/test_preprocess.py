import numpy as np
import pytest
from PIL import Image

from art_export.data import normalize
from art_export.preprocess import Preprocess, resized_size, sample_indices


def test_segment_centre_sampling():
    assert sample_indices(16, 8) == [1, 3, 5, 7, 9, 11, 13, 15]
    assert sample_indices(10, 4) == [1, 3, 6, 8]
    assert sample_indices(3, 8) == [0, 0, 0, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError):
        sample_indices(0, 8)


def test_shorter_side_resize_rounds_half_up():
    assert resized_size(160, 120, 112) == (149, 112)
    assert resized_size(120, 160, 112) == (112, 149)
    assert resized_size(160, 120, 96) == (128, 96)
    assert resized_size(3, 2, 3) == (5, 3)  # 4.5 rounds up
    assert resized_size(50, 50, 32) == (32, 32)


def test_geometry_is_pillow_bilinear_then_centre_crop():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 120, 160, 3), dtype=np.uint8)
    pre = Preprocess(frames=2, resize_to=112, width=112, height=112)
    out = pre.geometry(frames)
    assert out.shape == (2, 112, 112, 3) and out.dtype == np.uint8
    ref = np.asarray(Image.fromarray(frames[1]).resize((149, 112), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out[1], ref[:, 18:130])


def test_geometry_rejects_small_frames():
    pre = Preprocess(frames=1, resize_to=32, width=64, height=32)
    with pytest.raises(ValueError, match="smaller than"):
        pre.geometry(np.zeros((1, 40, 40, 3), dtype=np.uint8))


def test_normalize_layout_and_values():
    pre = Preprocess(frames=1, resize_to=2, width=2, height=2)
    frames = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    frames[..., 0] = 255
    x = pre.normalize(frames)
    assert x.shape == (1, 3, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], (1 - 0.485) / 0.229, rtol=1e-6)
    np.testing.assert_allclose(x[0, 2], (0 - 0.406) / 0.225, rtol=1e-6)


def test_clip_tensor_samples_then_preprocesses():
    frames = np.stack([np.full((8, 8, 3), i * 10, dtype=np.uint8) for i in range(16)])
    pre = Preprocess(frames=4, resize_to=8, width=8, height=8, mean=(0, 0, 0), std=(1, 1, 1))
    x = pre.clip_tensor(frames)
    np.testing.assert_allclose(x[:, 0, 0, 0], np.array([20, 60, 100, 140]) / 255, rtol=1e-6)


def test_training_batches_normalize_exactly_as_the_reference():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(3, 2, 16, 24, 3), dtype=np.uint8)
    frames[0, 0, 0, :4] = [[0, 0, 0], [255, 255, 255], [1, 128, 254], [17, 99, 200]]
    pre = Preprocess(frames=2, resize_to=16, width=16, height=16, mean=(0.1, 0.5, 0.9), std=(0.2, 0.3, 0.7))
    ref = pre.normalize(frames)
    out = normalize(frames, pre)
    assert out.shape == ref.shape == (3, 2, 3, 16, 24) and out.is_contiguous()
    np.testing.assert_array_equal(out.numpy(), ref)
