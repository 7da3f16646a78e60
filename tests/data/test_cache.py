"""Preprocessing into the clip cache: layout, bad input, resume, invalidation, parallel workers."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import skimage.data

from rppg_distill.data.cache import ClipCache, PreprocessSettings, preprocess
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import EmptyVideoError, VideoOpenError, VideoReadError, read_video, write_video

N = 30
FAST = {"workers": 0, "progress": False, "detect_every": 10, "size": 36}


def face_frames(n: int = N, seed: int = 0) -> np.ndarray:
    img = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = np.float32([[1, 0, 4 * np.sin(i / 5)], [0, 1, 0]])
        f = cv2.warpAffine(img, m, (256, 256), borderMode=cv2.BORDER_REFLECT).astype(np.int16)
        out.append(np.clip(f + rng.integers(-2, 3, f.shape), 0, 255).astype(np.uint8))
    return np.stack(out)


def make_rec(tmp_path, name="s1", view="frontal", frames=None, n=N, radar=False, **kw) -> Recording:
    path = tmp_path / "videos" / f"{name}_{view}.avi"
    if not path.exists():
        write_video(path, face_frames(n) if frames is None else frames, 30.0, codec="MJPG")
    bvp = kw.pop("bvp", np.sin(np.arange(n) / 4).astype(np.float32))
    r = np.random.default_rng(1).standard_normal((10, n)).astype(np.float32) if radar else None
    return Recording("test", name, view, path, kw.pop("fps", 30.0), state="rest", bvp=bvp,
                     radar=r, **kw)


def test_layout_manifest_and_checksum(tmp_path):
    rec = make_rec(tmp_path, radar=True)
    rep = preprocess([rec], tmp_path / "cache", FAST)
    assert rep.ok_keys == [rec.key] and not rep.flagged and rep.n_frames == N
    cache = ClipCache(tmp_path / "cache")
    e = cache[rec]
    assert isinstance(e.frames, np.memmap) and e.frames.shape == (N, 36, 36, 3)
    assert e.frames.dtype == np.uint8 and e.boxes.shape == (N, 4) and e.face_ok.all()
    np.testing.assert_array_equal(e.bvp, rec.bvp)
    np.testing.assert_array_equal(e.radar, rec.radar)
    m = e.manifest
    for k in ("source", "fps", "checksum", "hashes", "settings", "subject", "view", "state"):
        assert k in m, k
    assert m["fps"] == 30.0 and m["source"] == str(rec.video)
    assert e.verify()
    report = json.loads((tmp_path / "cache" / "report.json").read_text())
    assert report["ok_keys"] == [rec.key]
    assert not list((tmp_path / "cache").rglob(".*tmp*"))  # no temp files left


def test_bad_inputs_are_flagged_and_reported(tmp_path):
    vids = tmp_path / "videos"
    vids.mkdir()
    corrupt = vids / "corrupt.avi"
    corrupt.write_bytes(os.urandom(4096))
    empty = vids / "empty.avi"
    empty.write_bytes(b"")
    zero = vids / "zero.avi"  # a valid container with 0 frames
    w = cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 64))
    w.release()
    noface = vids / "noface.avi"
    write_video(noface, np.full((N, 64, 64, 3), 100, np.uint8), 30.0)
    good = make_rec(tmp_path, "good")
    recs = [
        good,
        Recording("test", "corrupt", "frontal", corrupt, 30.0),
        Recording("test", "empty", "frontal", empty, 30.0),
        Recording("test", "zero", "frontal", zero, 30.0),
        Recording("test", "missing", "frontal", vids / "missing.avi", 30.0),
        Recording("test", "noface", "frontal", noface, 30.0),
        make_rec(tmp_path, "fps0", fps=0.0),
        make_rec(tmp_path, "short_label", bvp=np.zeros(N - 5, np.float32)),
    ]
    rep = preprocess(recs, tmp_path / "cache", FAST)
    reasons = {f.key.split("__")[1]: f.reason for f in rep.flagged}
    assert reasons == {"corrupt": "unreadable", "empty": "empty", "zero": "empty",
                       "missing": "unreadable", "noface": "no_face", "fps0": "bad_fps",
                       "short_label": "label_mismatch"}, rep.summary()
    assert rep.ok_keys == [good.key]
    text = (tmp_path / "cache" / "report.txt").read_text()
    for name in reasons:
        assert f"test__{name}__" in text and "SKIPPED" in text
    assert "no face in any of 30 frames" in text
    cache = ClipCache(tmp_path / "cache")
    assert cache.keys() == [good.key]
    assert len(cache.keys(status=None)) == len(recs)
    # a second run remembers the verdicts without recomputing them
    rep2 = preprocess(recs, tmp_path / "cache", FAST)
    assert sorted(rep2.reused) == sorted(r.key for r in recs) and len(rep2.flagged) == 7
    # strict mode raises with the name
    with pytest.raises(ValueError, match="noface.*no_face"):
        preprocess([recs[5]], tmp_path / "cache_strict", {**FAST, "on_error": "raise"})


def test_read_errors_are_typed_and_the_worker_sorts_them_by_type(tmp_path):
    vids = tmp_path / "videos"
    vids.mkdir()
    (vids / "empty.avi").write_bytes(b"")
    (vids / "junk.avi").write_bytes(os.urandom(4096))
    with pytest.raises(VideoOpenError, match="missing.avi"):
        read_video(vids / "missing.avi")
    with pytest.raises(EmptyVideoError, match="0 bytes"):
        read_video(vids / "empty.avi")
    with pytest.raises(VideoOpenError, match="junk.avi"):
        read_video(vids / "junk.avi")
    assert issubclass(VideoReadError, ValueError)  # callers catching ValueError still do
    # in-memory sources: no frames at all -> "empty"; a size change mid-stream -> "unreadable"
    mixed = list(face_frames(N))[:5] + [f[:128] for f in face_frames(N)[5:]]
    recs = [Recording("test", "nothing", "frontal", tmp_path / "none.avi", 30.0,
                      frame_loader=lambda: np.zeros((0, 64, 64, 3), np.uint8)),
            Recording("test", "resized", "frontal", tmp_path / "none.avi", 30.0,
                      frame_loader=lambda: mixed)]
    rep = preprocess(recs, tmp_path / "cache", FAST)
    flagged = {f.key.split("__")[1]: (f.reason, f.detail) for f in rep.flagged}
    assert flagged["nothing"][0] == "empty" and "no frames" in flagged["nothing"][1]
    assert flagged["resized"][0] == "unreadable" and "changes mid-stream" in flagged["resized"][1]
    with pytest.raises(ValueError, match="resized.*unreadable"):
        preprocess(recs[1:2], tmp_path / "strict", {**FAST, "on_error": "raise"})
    assert not list((tmp_path / "strict").rglob("*.npy*")) and not list((tmp_path / "strict").rglob(".*tmp*"))


def test_label_tolerance_cuts_to_shorter(tmp_path):
    rec = make_rec(tmp_path, bvp=np.zeros(N - 1, np.float32))
    rep = preprocess([rec], tmp_path / "cache", {**FAST, "label_tolerance": 2})
    assert rep.ok_keys == [rec.key] and rep.warnings
    assert ClipCache(tmp_path / "cache")[rec].n_usable == N - 1


def test_unknown_settings_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match="unknown preprocess settings"):
        PreprocessSettings.from_dict({"sise": 72})
    rec = make_rec(tmp_path)
    with pytest.raises(ValueError, match="duplicate"):
        preprocess([rec, rec], tmp_path / "cache", FAST)


def test_resume_and_invalidation(tmp_path):
    a, b = make_rec(tmp_path, "a"), make_rec(tmp_path, "b")
    root = tmp_path / "cache"
    rep = preprocess([a, b], root, FAST)
    assert sorted(rep.processed) == [a.key, b.key]
    # interrupted run: b's manifest never got written, a stale temp file lies around
    (root / b.key / "manifest.json").unlink()
    (root / b.key / ".frames.npy.tmp-999").write_bytes(b"junk")
    rep = preprocess([a, b], root, FAST)
    assert rep.processed == [b.key] and rep.reused == [a.key]
    # label change of one recording: only its labels are rewritten
    b2 = make_rec(tmp_path, "b", bvp=np.cos(np.arange(N) / 4).astype(np.float32))
    rep = preprocess([a, b2], root, FAST)
    assert rep.relabelled == [b2.key] and rep.reused == [a.key] and not rep.processed
    np.testing.assert_array_equal(ClipCache(root)[b2].bvp, b2.bvp)
    # crop size change: re-crop with the stored boxes, no detection
    rep = preprocess([a, b2], root, {**FAST, "size": 24})
    assert sorted(rep.recropped) == [a.key, b2.key] and not rep.processed
    e = ClipCache(root)[a]
    assert e.frames.shape == (N, 24, 24, 3) and e.verify()
    # same settings again: nothing to do
    rep = preprocess([a, b2], root, {**FAST, "size": 24})
    assert sorted(rep.reused) == [a.key, b2.key]
    # detection settings change: full redo
    rep = preprocess([a, b2], root, {**FAST, "size": 24, "detect_every": 3})
    assert sorted(rep.processed) == [a.key, b2.key]
    # source file changed: only that one
    os.utime(a.video, ns=(1, 1))
    rep = preprocess([a, b2], root, {**FAST, "size": 24, "detect_every": 3})
    assert rep.processed == [a.key] and rep.reused == [b2.key]


def test_recrop_matches_fresh_crop(tmp_path):
    rec = make_rec(tmp_path)
    preprocess([rec], tmp_path / "c1", FAST)
    preprocess([rec], tmp_path / "c1", {**FAST, "size": 24, "coef": 1.2})
    preprocess([rec], tmp_path / "c2", {**FAST, "size": 24, "coef": 1.2})
    e1, e2 = ClipCache(tmp_path / "c1")[rec], ClipCache(tmp_path / "c2")[rec]
    np.testing.assert_allclose(e1.boxes, e2.boxes, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(e1.frames), np.asarray(e2.frames))


def test_keyboard_interrupt_leaves_no_partial_entry(tmp_path):
    frames = face_frames()

    def loader():
        raise KeyboardInterrupt

    bad = Recording("test", "k", "frontal", tmp_path / "k.avi", 30.0, frame_loader=loader)
    with pytest.raises(KeyboardInterrupt):
        preprocess([bad], tmp_path / "cache", FAST)
    assert not (tmp_path / "cache" / bad.key / "manifest.json").exists()
    assert not list((tmp_path / "cache" / bad.key).glob(".*tmp*"))
    ok = Recording("test", "k", "frontal", tmp_path / "k.avi", 30.0, frame_loader=lambda: frames)
    rep = preprocess([ok], tmp_path / "cache", FAST)  # unpicklable loader: runs in-process
    assert rep.processed == [ok.key] and ClipCache(tmp_path / "cache")[ok].n_frames == N


def test_parallel_workers_match_serial(tmp_path):
    recs = [make_rec(tmp_path, f"p{i}") for i in range(3)]
    r1 = preprocess(recs, tmp_path / "serial", FAST)
    r2 = preprocess(recs, tmp_path / "par", {**FAST, "workers": 2})
    assert r1.ok_keys == r2.ok_keys == sorted(r.key for r in recs)
    c1, c2 = ClipCache(tmp_path / "serial"), ClipCache(tmp_path / "par")
    for r in recs:
        assert c1[r].manifest["checksum"] == c2[r].manifest["checksum"]


def test_prune_removes_stale_entries(tmp_path):
    a, b = make_rec(tmp_path, "a"), make_rec(tmp_path, "b")
    preprocess([a, b], tmp_path / "cache", FAST)
    rep = preprocess([a], tmp_path / "cache", FAST, prune=True)
    assert ClipCache(tmp_path / "cache").keys() == [a.key]
    assert any("pruned" in w for w in rep.warnings)


def test_synthetic_mcd_end_to_end(tmp_path):
    """synthetic generator -> MCD-rPPG files -> reader -> parallel preprocess -> cache."""
    synthetic = pytest.importorskip("rppg_distill.data.synthetic")
    readers = pytest.importorskip("rppg_distill.data.readers")
    synthetic.generate(tmp_path / "syn", 1, seed=0, states=("before",), duration_s=3.0, workers=1)
    recs = readers.read_dataset("mcd_rppg", tmp_path / "syn" / "mcd_rppg")
    assert {r.view for r in recs} == {"frontal", "side_left", "side_right"}
    rep = preprocess(recs, tmp_path / "cache", {**FAST, "workers": 2, "size": 72})
    assert rep.ok_keys == sorted(r.key for r in recs), rep.summary()
    cache = ClipCache(tmp_path / "cache")
    for r in recs:
        e = cache[r]
        assert e.frames.shape == (len(r.bvp), 72, 72, 3)
        np.testing.assert_array_equal(e.bvp, r.bvp)
    assert cache[recs[0]].face_ok.all()  # frontal: face in every frame


def test_preprocess_command(tmp_path, capsys):
    synthetic = pytest.importorskip("rppg_distill.data.synthetic")
    pytest.importorskip("rppg_distill.data.readers.mcd_rppg")
    from rppg_distill.cli import main

    synthetic.generate(tmp_path / "syn", 1, seed=1, states=("before",), views=("frontal",),
                       duration_s=2.0, radar=False, workers=1)
    rc = main(["preprocess", "--dataset", "mcd_rppg", "--root", str(tmp_path / "syn" / "mcd_rppg"),
               "--out", str(tmp_path / "cache"), "--workers", "0", "--size", "32",
               "--no-progress", "--strict"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "1 usable" in out and (tmp_path / "cache" / "report.json").is_file()
    assert ClipCache(tmp_path / "cache")[ClipCache(tmp_path / "cache").keys()[0]].frames.shape[1] == 32
