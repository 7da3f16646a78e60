"""A classical method (POS, CHROM, ...) as a Monitor runner (numpy, OpenCV, the spectral core).

    mon = Monitor(method="pos")                       # or Monitor(ClassicalRunner("chrom"))

It has what the Monitor needs from a model runner (``contract``, ``run``, ``describe``) plus
``reduce_crop``: each face crop is reduced at once to its mean skin colour (``data.face.skin``),
so the ring buffer holds RGB means [T, 3] instead of crops and a window costs microseconds.
``run`` turns windows of RGB means into pulses with ``classical.ClassicalPipeline`` (method,
detrending, order-1 band-pass); the Monitor stitches them and reads HR from the spectral peak
in the pipeline's band, as for a model.
"""

from __future__ import annotations

import numpy as np

from rppg_distill.classical.pipeline import DEFAULT_METHOD, ClassicalPipeline
from rppg_distill.deploy.contract import Contract


class ClassicalRunner:
    """Runner for a classical method.

    Args:
        method: classical method name (default: ``classical.DEFAULT_METHOD``).
        pipeline: full ``ClassicalPipeline`` settings (``method`` then must be None or agree).
        fs: rate the frames are resampled to (Hz).
        crop_size: side of the face crop the skin mean is taken from (pixels).
        skin: skin mask mode (``data.face.skin.SKIN_MODES``).

    The window is ``pipeline.window_s`` seconds (T frames); the Monitor's default hop is
    ``pipeline.stride_s`` (``hop`` here), so HR follows the last 10 s, updated every second.
    """

    def __init__(self, method: str | None = None, pipeline: ClassicalPipeline | None = None,
                 fs: float = 30.0, crop_size: int = 64, skin: str = "roi+ycrcb"):
        from rppg_distill.data.face.skin import SKIN_MODES

        if pipeline is None:
            pipeline = ClassicalPipeline(method=method or DEFAULT_METHOD)
        elif method is not None and method.lower() != pipeline.method:
            raise ValueError(f"method {method!r} disagrees with pipeline.method {pipeline.method!r}")
        if skin not in SKIN_MODES:
            raise ValueError(f"skin must be one of {SKIN_MODES}, got {skin!r}")
        self.pipeline = pipeline
        self.skin = skin
        self.fs = float(fs)
        frames = int(round(pipeline.window_s * self.fs))
        self.hop = max(1, int(round(pipeline.stride_s * self.fs)))
        # face_box_coef 1: the detector's own box, in which data.face.skin places its ROI
        self.contract = Contract(model=f"classical:{pipeline.method}", frames=frames,
                                 height=int(crop_size), width=int(crop_size), normalization="raw",
                                 fs=self.fs, output="bvp", face_box_coef=1.0, band=pipeline.band,
                                 precision="fp64", batch="dynamic")
        self.pipeline.pulse(np.ones((frames, 3)) + 0.01 * np.random.default_rng(0).random(
            (frames, 3)), self.fs)  # fail here, not mid-stream, if window and band do not fit

    def reduce_crop(self, crop: np.ndarray) -> np.ndarray:
        """uint8 face crop [S, S, 3] -> float32 [3] mean skin RGB."""
        from rppg_distill.data.face.skin import skin_mean_rgb

        return skin_mean_rgb(crop, self.skin)[0].astype(np.float32)

    @property
    def roi_boxes(self) -> tuple:
        """The skin ROI boxes (fractions of the crop) that are averaged, for plots."""
        from rppg_distill.data.face.skin import ROI_BOXES

        return ROI_BOXES if self.skin.startswith("roi") else ()

    def input_shape(self, batch: int = 1) -> tuple[int, int, int]:
        return (int(batch), self.contract.frames, 3)

    def run(self, x: np.ndarray) -> np.ndarray:
        """RGB means [B, T, 3] -> pulses float32 [B, T]."""
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[1:] != (self.contract.frames, 3):
            raise ValueError(f"expected RGB means [B, {self.contract.frames}, 3], got {x.shape}")
        return np.stack([self.pipeline.pulse(w, self.fs) for w in x]).astype(np.float32)

    def describe(self) -> dict:
        return {"kind": "classical", "method": self.pipeline.method,
                "pipeline": self.pipeline.as_dict(), "skin_mask": self.skin,
                "crop_size": self.contract.height, "fs": self.fs, "hop": self.hop}
