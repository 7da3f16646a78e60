"""Video input/output on OpenCV (headless): read, probe, iterate and write videos atomically.

All frames are uint8 RGB ``[H, W, 3]`` (OpenCV's BGR is converted at this boundary only).
Every failure raises ``ValueError`` naming the file, never a silent empty array. A source that
cannot be read raises a :class:`VideoReadError` (a ``ValueError``) saying why, so callers can
sort failures by type: :class:`VideoOpenError` (missing, or not openable: corrupt header or
unsupported codec), :class:`EmptyVideoError` (0 bytes or no decodable frame) and
:class:`CorruptVideoError` (it opens, but its frames or timestamps are broken).

Codecs (``write_video(codec=...)``):
    - ``"FFV1"``: lossless (FFmpeg FFV1 in AVI); used by tests for exact round trips.
    - ``"MJPG"``: motion JPEG through OpenCV's built-in MJPEG writer, whose quality (0-100)
      is settable; the synthetic generator's default (quality 95 keeps 0.1-1 % pulse
      modulations recoverable by POS, see ``rppg_distill.data.synthetic``).
    - any other FourCC OpenCV's FFmpeg backend can encode (e.g. ``"XVID"``).
A folder of ``*.png`` frames is also accepted by the readers (``read_frame_folder``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

try:  # cv2 is a core dependency, but keep the import error readable
    import cv2
except ModuleNotFoundError as _err:  # pragma: no cover
    raise ModuleNotFoundError("rppg_distill.data.video_io needs opencv-python-headless<5") from _err

from rppg_distill.data.atomic import atomic_save

__all__ = [
    "CorruptVideoError",
    "EmptyVideoError",
    "VideoOpenError",
    "VideoReadError",
    "avi_header_fps",
    "iter_video",
    "natural_key",
    "read_frame_folder",
    "read_video",
    "video_fps",
    "video_info",
    "write_frame_folder",
    "write_video",
]


class VideoReadError(ValueError):
    """A video file or frame folder cannot be read (the message names the file)."""


class VideoOpenError(VideoReadError):
    """The source is missing, or OpenCV cannot open it (corrupt header, unsupported codec)."""


class EmptyVideoError(VideoReadError):
    """The source has no data: a 0-byte file, no decodable frame, no frame image."""


class CorruptVideoError(VideoReadError):
    """The source opens but its content is broken: undecodable frame, changing size, no timing."""


def natural_key(s: str | Path) -> list:
    """Sort key that orders embedded numbers numerically ("img2" < "img10")."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(s))]


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise VideoOpenError(f"video file not found: {path}")
    if path.stat().st_size == 0:
        raise EmptyVideoError(f"video file is empty (0 bytes): {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoOpenError(f"cannot open video (corrupt or unsupported codec): {path}")
    return cap


def video_info(path: str | Path) -> dict:
    """Header info without decoding: fps, frame_count (as declared), width, height, fourcc."""
    cap = _open(path)
    try:
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        declared = avi_header_fps(path)
        if declared is not None:
            fps = declared  # 0.0 when the AVI header declares no rate (FFmpeg would say 25)
        return {
            "fps": fps,
            "frame_count": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fourcc": "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)),
        }
    finally:
        cap.release()


def avi_header_fps(path: str | Path) -> float | None:
    """fps declared by an AVI's video stream header (``strh`` dwRate / dwScale), or None if not AVI.

    FFmpeg (and so OpenCV) silently substitutes 25 fps when the header says 0; this reads the
    header itself so that a broken header is reported instead. Returns 0.0 for a zero rate/scale.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return None
    i = head.find(b"strh")
    while i >= 0:
        if head[i + 8:i + 12] == b"vids" and len(head) >= i + 36:
            scale = int.from_bytes(head[i + 28:i + 32], "little")
            rate = int.from_bytes(head[i + 32:i + 36], "little")
            return rate / scale if rate > 0 and scale > 0 else 0.0
        i = head.find(b"strh", i + 4)
    return None


MAX_FPS = 1000.0  # a header rate above this is implausible (a time base, not a frame rate)


def _check_fps(fps, path, what: str) -> float:
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and 0 < fps <= MAX_FPS):
        from_file = what == "in its header"
        hint = "; pass the real rate explicitly (e.g. `rppg-distill run --fps 30`)" if from_file else ""
        error = CorruptVideoError if from_file else ValueError
        raise error(f"video has no valid fps {what} (got {fps!r}, need 0 < fps <= "
                    f"{MAX_FPS:g}){hint}: {path}")
    return float(fps)


def video_fps(path: str | Path) -> float:
    """Frame rate from the file header. ValueError (naming the file) if it is 0, NaN, missing or
    implausible (above ``MAX_FPS``).

    For AVI files the stream header is checked directly (see ``avi_header_fps``).
    """
    fps = video_info(path)["fps"]
    declared = avi_header_fps(path)
    if declared is not None:
        fps = declared
    return _check_fps(fps, path, "in its header")


def read_video(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Decode frames: uint8 ``[N, H, W, 3]`` RGB. ValueError naming the file if corrupt or empty."""
    cap = _open(path)
    frames: list[np.ndarray] = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise EmptyVideoError(f"video has no decodable frames (corrupt or 0 frames): {path}")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise CorruptVideoError(f"video frames change size mid-stream {sorted(shapes)}: {path}")
    return np.stack(frames)


def iter_video(path: str | Path, fps: float | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """Yield ``(frame uint8 [H, W, 3] RGB, timestamp_s)``.

    ``fps`` given (e.g. for a file whose header has no rate): it overrides the file, and the
    timestamps are ``index / fps``. Otherwise the header's rate must be valid (``video_fps``:
    an AVI header rate of 0 is an error, never FFmpeg's substituted 25 fps), and timestamps come
    from ``CAP_PROP_POS_MSEC``, falling back to ``index / rate`` where the backend gives none
    (0 after the first frame, or non-increasing).
    Raises ValueError naming the file if the rate is invalid or not a single frame decodes.
    """
    explicit = fps is not None
    rate = _check_fps(fps, path, "given") if explicit else video_fps(path)
    cap = _open(path)
    n = 0
    last_t = -1.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = t_ms / 1000.0 if np.isfinite(t_ms) else -1.0
            if explicit or t <= last_t or (n > 0 and t <= 0):
                t = n / rate
            last_t = t
            n += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), float(t)
    finally:
        cap.release()
    if n == 0:
        raise EmptyVideoError(f"video has no decodable frames (corrupt or 0 frames): {path}")


def _check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3] RGB, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] == 0:
        raise ValueError("cannot write a video with 0 frames")
    return frames


def write_video(path: str | Path, frames: np.ndarray | Sequence[np.ndarray], fps: float,
                codec: str = "MJPG", quality: int = 95) -> Path:
    """Write uint8 RGB frames ``[N, H, W, 3]`` to ``path`` atomically (temp file, then rename).

    Args:
        codec: FourCC. "MJPG" uses OpenCV's built-in MJPEG encoder with ``quality`` (0-100);
            "FFV1" is lossless; other FourCCs go through FFmpeg.
    Returns the path. Raises ValueError on bad input or when the codec cannot be opened.
    """
    path = Path(path)
    frames = _check_frames(frames)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps!r} (writing {path})")
    n, h, w, _ = frames.shape

    def save(tmp: str) -> None:
        fourcc = cv2.VideoWriter_fourcc(*codec)
        if codec == "MJPG":
            writer = cv2.VideoWriter(tmp, cv2.CAP_OPENCV_MJPEG, fourcc, float(fps), (w, h),
                                     [cv2.VIDEOWRITER_PROP_QUALITY, int(quality)])
        else:
            writer = cv2.VideoWriter(tmp, fourcc, float(fps), (w, h))
        if not writer.isOpened():
            raise ValueError(f"OpenCV cannot open a writer with codec {codec!r} for {path}")
        try:
            for f in frames:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()

    atomic_save(path, save, suffix=path.suffix or ".avi")
    return path


def read_frame_folder(folder: str | Path, pattern: str = "*.png",
                      max_frames: int | None = None) -> np.ndarray:
    """Read a folder of image frames (sorted numerically) as uint8 ``[N, H, W, 3]`` RGB."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoOpenError(f"frame folder not found: {folder}")
    files = sorted(folder.glob(pattern), key=lambda p: natural_key(p.name))
    if max_frames is not None:
        files = files[:max_frames]
    if not files:
        raise EmptyVideoError(f"frame folder has no {pattern} frames: {folder}")
    out = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise CorruptVideoError(f"cannot decode frame image (corrupt): {f}")
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    if len({a.shape for a in out}) != 1:
        raise CorruptVideoError(f"frames in {folder} differ in size")
    return np.stack(out)


def write_frame_folder(folder: str | Path, frames: np.ndarray, name: str = "frame_{i}.png") -> Path:
    """Write uint8 RGB frames as lossless PNG files ``name.format(i=i)`` into ``folder``."""
    folder = Path(folder)
    frames = _check_frames(frames)
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        target = folder / name.format(i=i)

        def save(tmp: str, f=f, target=target) -> None:
            if not cv2.imwrite(tmp, cv2.cvtColor(f, cv2.COLOR_RGB2BGR)):
                raise ValueError(f"cannot write frame {target}")

        atomic_save(target, save, suffix=".png")
    return folder
