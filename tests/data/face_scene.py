"""A real face photo (``skimage.data.astronaut()``) pasted at a chosen size onto a wide frame,
for face-detection tests and bench/face_size.py.

The face width is the Haar cascade's face box in the photo (95 px, measured once:
``rppg_distill.data.synthetic.face``), scaled to ``face_frac`` of the frame width.
"""

from __future__ import annotations

import numpy as np

PHOTO_FACE_W = 95.0               # Haar face box width in astronaut() (177, 66, 95, 95)
PHOTO_FACE_C = (224.5, 113.5)     # its centre
PASTE_HALF = 120                  # half side of the photo region pasted (head and shoulders)


def face_scene(face_frac: float, size=(640, 480), background: str = "grey", seed: int = 0):
    """(frame uint8 [H, W, 3] RGB, face mask bool [H, W]) with the face centred.

    background: "grey" (a plain wall with sensor noise), "none" (the same wall, no face) or
    "brick" (skimage's brick texture).
    """
    import cv2
    from skimage import data

    W, H = size
    rng = np.random.default_rng(seed)
    if background == "brick":
        bg = cv2.cvtColor(cv2.resize(data.brick(), (W, H)), cv2.COLOR_GRAY2RGB)
    else:
        bg = (np.full((H, W, 3), 70, np.uint8)
              + rng.integers(0, 20, (H, W, 1), dtype=np.uint8))
    if background == "none":
        return bg, np.zeros((H, W), bool)
    photo = data.astronaut()
    s = face_frac * W / PHOTO_FACE_W
    cx, cy = PHOTO_FACE_C
    M = np.array([[s, 0, W / 2 - s * cx], [0, s, H / 2 - s * cy]], np.float32)
    region = np.zeros(photo.shape[:2], np.uint8)
    region[max(0, int(cy - PASTE_HALF)):int(cy + PASTE_HALF),
           int(cx - PASTE_HALF):int(cx + PASTE_HALF)] = 255
    warped = cv2.warpAffine(photo, M, (W, H), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    inside = cv2.warpAffine(region, M, (W, H)) > 127
    frame = bg.copy()
    frame[inside] = warped[inside]
    fx0, fx1 = W / 2 - s * PHOTO_FACE_W / 2, W / 2 + s * PHOTO_FACE_W / 2
    yy, xx = np.mgrid[0:H, 0:W]
    face = (np.abs(xx - W / 2) <= (fx1 - fx0) / 2) & (np.abs(yy - H / 2) <= (fx1 - fx0) / 2)
    return frame, face


def pulse_video(face_frac: float, hr_bpm: float = 72.0, seconds: float = 10.0, fps: float = 30.0,
                amp: float = 0.02, **kw):
    """(frames uint8 [N, H, W, 3], timestamps [N]): the face region's brightness pulses."""
    frame, face = face_scene(face_frac, **kw)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    gain = 1.0 + amp * np.sin(2 * np.pi * hr_bpm / 60.0 * t)
    base = frame.astype(np.float32)
    out = np.repeat(frame[None], n, axis=0)
    for i in range(n):
        out[i][face] = np.clip(base[face] * gain[i], 0, 255).astype(np.uint8)
    return out, t
