import numpy as np
import pytest

from art_export.clipset import ClipSet, ClipSetError
from art_export.data import ClipTensors
from art_export.preprocess import Preprocess
from clipgen import write_clip_set


def test_reads_the_format(tmp_path):
    root = write_clip_set(tmp_path / "s", classes=3, clips_per_class=2, frames=5)
    s = ClipSet.open(root)
    assert s.labels == ["move 0", "move 1", "move 2"]
    assert len(s.clips) == 6 and (s.fps, s.width, s.height) == (30, 160, 120)
    assert s.provenance["seed"] == 1
    frames = s.clips[3].load_frames()
    assert frames.shape == (5, 120, 160, 3) and s.clips[3].label == 1


@pytest.mark.parametrize(
    "line, message",
    [
        ("clip_00_000 16", "annotations.txt:2: expected"),
        ("clip_00_000 x 0", "annotations.txt:2"),
        ("clip_00_000 16 9", "annotations.txt:2: class id 9 outside 0..2"),
        ("clip_00_000 0 1", "annotations.txt:2: num_frames must be positive"),
    ],
)
def test_bad_annotation_names_file_and_line(tmp_path, line, message):
    root = write_clip_set(tmp_path / "s", classes=3, clips_per_class=1, frames=2)
    ann = root / "annotations.txt"
    ann.write_text(ann.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(ClipSetError, match=message):
        ClipSet.open(root)


def test_missing_files_and_bad_metadata(tmp_path):
    with pytest.raises(ClipSetError, match="not a directory"):
        ClipSet.open(tmp_path / "nope")
    root = write_clip_set(tmp_path / "s", classes=2, clips_per_class=1, frames=2)
    (root / "set.toml").write_text("fps = 30\nwidth = 160\n")
    with pytest.raises(ClipSetError, match="set.toml: key `height`"):
        ClipSet.open(root)
    (root / "labels.txt").unlink()
    with pytest.raises(ClipSetError, match="labels.txt: missing"):
        ClipSet.open(root)


def test_undecodable_frame(tmp_path):
    root = write_clip_set(tmp_path / "s", classes=2, clips_per_class=1, frames=2)
    s = ClipSet.open(root)
    s.clips[0].frame_path(1).write_bytes(b"not a jpeg")
    with pytest.raises(ClipSetError, match="img_00002.jpg: cannot decode"):
        s.clips[0].load_frames()


def test_several_sets_load_as_one_in_order(tmp_path):
    a = ClipSet.open(write_clip_set(tmp_path / "a", classes=3, clips_per_class=2, frames=4, seed=1))
    b = ClipSet.open(write_clip_set(tmp_path / "b", classes=3, clips_per_class=1, frames=4, seed=2))
    pre = Preprocess(frames=2, resize_to=32, width=32, height=32)
    both = ClipTensors.load([a, b], pre, progress=False)
    alone = [ClipTensors.load(s, pre, progress=False) for s in (a, b)]
    assert len(both) == 9 and both.label_names == a.labels
    assert np.array_equal(both.frames, np.concatenate([t.frames for t in alone]))
    assert both.labels.tolist() == [0, 0, 1, 1, 2, 2, 0, 1, 2]


def test_sets_naming_other_classes_are_not_loaded_together(tmp_path):
    a = ClipSet.open(write_clip_set(tmp_path / "a", classes=3, clips_per_class=1, frames=4))
    b = ClipSet.open(write_clip_set(tmp_path / "b", classes=2, clips_per_class=1, frames=4))
    with pytest.raises(ValueError, match=r"b/labels.txt: names other classes than .*a/labels.txt"):
        ClipTensors.load([a, b], Preprocess(frames=2, resize_to=32, width=32, height=32), progress=False)


def _make_paired(root, pairs: str):
    """Reorders a clipgen set (classes 0 and 1, equal counts) into pairs 0:1
    and declares them in set.toml as `artrt synth --twins` does."""
    ann = root / "annotations.txt"
    lines = ann.read_text().splitlines()
    zeros = [l for l in lines if l.endswith(" 0")]
    ones = [l for l in lines if l.endswith(" 1")]
    ann.write_text("\n".join(l for pair in zip(zeros, ones) for l in pair) + "\n")
    meta = root / "set.toml"
    meta.write_text(meta.read_text() + f'twins = "{pairs}"\n')
    return root


def test_contrast_pairs_stay_together_in_every_shuffle(tmp_path):
    paired = ClipSet.open(_make_paired(write_clip_set(tmp_path / "p", classes=2, clips_per_class=4, frames=2), "0:1"))
    single = ClipSet.open(write_clip_set(tmp_path / "s", classes=2, clips_per_class=3, frames=2, seed=2))
    assert paired.paired and not single.paired
    pre = Preprocess(frames=2, resize_to=32, width=32, height=32)
    data = ClipTensors.load([single, paired, single], pre, progress=False)
    assert data.pair_first.tolist() == [False] * 6 + [True, False] * 4 + [False] * 6
    rng = np.random.default_rng(0)
    orders = [data.shuffled(rng) for _ in range(20)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(len(data)))
        for i in range(6, 14, 2):
            at = int(np.flatnonzero(order == i)[0])
            assert order[at + 1] == i + 1, order
    assert len({tuple(o) for o in orders}) == 20
    plain = ClipTensors.load(single, pre, progress=False)
    assert np.array_equal(plain.shuffled(np.random.default_rng(5)), np.random.default_rng(5).permutation(len(plain)))


@pytest.mark.parametrize(
    "pairs, odd, message",
    [
        ("1:0", False, r"annotations.txt:1: pair 0 has classes 0:1, provenance.twins says 1:0"),
        ("0-1", False, r"set.toml: provenance.twins '0-1' is not A:B"),
        ("0:1", True, "3 clips, but contrast pairs"),
    ],
)
def test_contrast_pairs_that_do_not_follow_their_pairs_are_refused(tmp_path, pairs, odd, message):
    root = _make_paired(write_clip_set(tmp_path / "p", classes=2, clips_per_class=2, frames=2), pairs)
    if odd:
        ann = root / "annotations.txt"
        ann.write_text("\n".join(ann.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(ClipSetError, match=message):
        ClipSet.open(root)
