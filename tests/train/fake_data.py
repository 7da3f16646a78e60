"""Tiny in-memory multi-view and video-radar datasets (sinusoidal pulse on noise) for trainer tests."""

from __future__ import annotations

import math

import torch


def _clip(hr_hz, t, fs, amp, g, size):
    tt = torch.arange(t) / fs
    pulse = torch.sin(2 * math.pi * hr_hz * tt)
    frames = 0.5 + 0.05 * torch.randn(3, t, size, size, generator=g)
    frames = frames + amp * pulse.view(1, t, 1, 1) * torch.tensor([0.3, 1.0, 0.5]).view(3, 1, 1, 1)
    return frames, pulse


class FakePairs(torch.utils.data.Dataset):
    def __init__(self, n=8, t=80, size=16, fs=30.0, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.items = []
        for i in range(n):
            hr = 1.0 + 1.5 * torch.rand(1, generator=g).item()
            xt, y = _clip(hr, t, fs, 0.2, g, size)
            xs, _ = _clip(hr, t, fs, 0.05, g, size)
            self.items.append({"teacher_video": xt, "student_video": xs, "bvp": y,
                               "student_view": "side_left" if i % 2 else "side_right", "key": f"s{i}#0"})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class FakeViews(torch.utils.data.Dataset):
    def __init__(self, pairs: FakePairs, which: str):
        self.items = [{"video": it[f"{which}_video"], "bvp": it["bvp"], "key": it["key"]} for it in pairs.items]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class FakeVideoRadar(torch.utils.data.Dataset):
    """Video + radar (10 channels carrying the pulse) + label mask. The radar recording runs
    ``tail`` samples past the clip (``item(i, radar_offset)``/``radar_room(i)`` as VideoRadarPairs)."""

    def __init__(self, n=8, t=64, size=16, fs=30.0, seed=0, labelled=True, tail=30):
        g = torch.Generator().manual_seed(seed)
        self.items, self.radars = [], []
        for i in range(n):
            hr = 1.0 + 1.5 * torch.rand(1, generator=g).item()
            video, y = _clip(hr, t, fs, 0.1, g, size)
            pulse = torch.sin(2 * math.pi * hr * torch.arange(t + tail) / fs)
            radar = pulse.view(1, -1).repeat(10, 1) + 0.1 * torch.randn(10, t + tail, generator=g)
            self.radars.append(radar)
            self.items.append({"video": video, "radar": radar[:, :t], "bvp": y, "has_label": labelled,
                               "key": f"r{i}#0"})
        self.t = t

    def __len__(self):
        return len(self.items)

    def radar_room(self, i):
        return self.radars[i].shape[1] - self.t

    def item(self, i, radar_offset=0):
        if radar_offset > self.radar_room(i):
            raise ValueError("no room")
        return {**self.items[i], "radar": self.radars[i][:, radar_offset:radar_offset + self.t]}

    def __getitem__(self, i):
        return self.items[i]
