"""Per-frame rendering of one view: pulse modulation, specular light, motion, illumination, noise.

pixel(t) = illum(t) * (base + ppg(t) * pulse_map) + spec(t) * specular_map + noise, then a
per-frame affine head-motion warp of the (base, pulse, specular) templates, then 8-bit rounding.
Everything per frame is a handful of vectorised array operations on [H, W, 3] float32 plus one
``cv2.warpAffine`` of a 7-channel stack (split in 4 + 3 channels for OpenCV).
"""

from __future__ import annotations

import cv2
import numpy as np

from rppg_distill.data.synthetic.face import ViewTemplate
from rppg_distill.data.synthetic.nuisance import Motion, NoiseBank


def render_view(tpl: ViewTemplate, ppg: np.ndarray, motion: Motion, illum: np.ndarray,
                noise: NoiseBank, specular_peak: float, specular_motion: float) -> np.ndarray:
    """Render ``len(ppg)`` frames: uint8 [N, H, W, 3] RGB.

    Args:
        ppg: reflected-light pulse at frame times (unit std); multiplies ``tpl.pulse``.
        specular_peak: peak specular intensity (grey levels) of the highlight map.
        specular_motion: relative change of specular intensity per unit of ``motion.yaw``.
    """
    n = len(ppg)
    h, w = tpl.base.shape[:2]
    stack_a = np.concatenate([tpl.base, tpl.specular[..., None]], axis=2)   # 4 channels
    stack_b = np.ascontiguousarray(tpl.pulse)                                # 3 channels
    out = np.empty((n, h, w, 3), np.uint8)
    centre = (w / 2.0, h / 2.0)
    buf = np.empty((h, w, 3), np.float32)
    for i in range(n):
        m = cv2.getRotationMatrix2D(centre, float(motion.angle_deg[i]), float(motion.scale[i]))
        m[0, 2] += motion.dx[i]
        m[1, 2] += motion.dy[i]
        a = cv2.warpAffine(stack_a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        b = cv2.warpAffine(stack_b, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        s = specular_peak * max(0.0, 1.0 + specular_motion * float(motion.yaw[i]))
        np.multiply(b, np.float32(ppg[i]), out=buf)
        buf += a[..., :3]
        buf *= illum[i]
        buf += (s * a[..., 3])[..., None]
        buf += noise.draw()
        np.clip(buf, 0.0, 255.0, out=buf)
        np.rint(buf, out=buf)
        out[i] = buf
    return out
