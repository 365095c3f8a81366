"""Video frames through the Python binding: hits carry the timestamp and the
kind ("video-frame"; stills stay "image" with timestamp None), and the video
options reach the library. The clip is written by ffmpeg at test time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cerebro


def make_clip(path: Path) -> None:
    """2 s of red, then 2 s of blue, 160x120 at 10 fps (H.264)."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:s=160x120:r=10:d=2", "-f", "lavfi", "-i", "color=c=blue:s=160x120:r=10:d=2",
                    "-filter_complex", "[0][1]concat=n=2:v=1,format=yuv420p[v]", "-map", "[v]",
                    "-c:v", "libx264", str(path)], check=True)


def test_frames_carry_timestamp_and_kind(model: cerebro.Model, tmp_path: Path) -> None:
    assert shutil.which("ffmpeg"), "ffmpeg is required (scripts/setup.sh installs it)"
    folder = tmp_path / "media"
    folder.mkdir()
    make_clip(folder / "clip.mp4")
    blue = tmp_path / "blue.png"
    Image.fromarray(np.tile(np.array([0, 0, 255], np.uint8), (120, 160, 1))).save(blue)
    shutil.copy(blue, folder / "still.png")
    with cerebro.Index(tmp_path / "db", model) as ix:
        stats = ix.add([folder], frame_interval=100, dedup_threshold=1)
        assert (stats.added, stats.frames) == (2, 2)
        hits = ix.search(blue, k=3)
        by_kind = {h.kind: h for h in hits}
        assert set(by_kind) == {"image", "video-frame"}
        assert by_kind["image"].timestamp is None and by_kind["image"].path.endswith("still.png")
        frames = sorted((h for h in hits if h.kind == "video-frame"), key=lambda h: h.timestamp)
        assert [h.timestamp for h in frames] == [pytest.approx(0.0), pytest.approx(2.0)]
        assert all(h.path.endswith("clip.mp4") and (h.width, h.height) == (160, 120) for h in frames)
        assert ix.get(frames[1].id).kind == "video-frame"
    with cerebro.Index(tmp_path / "db2", model) as ix:
        assert ix.add([folder], video=False).frames == 0


def test_progress_reports_inside_a_video_and_cancels_there(model: cerebro.Model,
                                                            tmp_path: Path) -> None:
    """A 300-frame clip gives at least one interim report (every 250 decoded
    frames); cancelling there stops the run and leaves the clip out."""
    folder = tmp_path / "media"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=green:s=160x120:r=10:d=30", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    str(folder / "long.mp4")], check=True)
    Image.new("RGB", (32, 32), (0, 0, 255)).save(folder / "still.png")
    seen: list[cerebro.Progress] = []

    def cancel_inside_the_video(p: cerebro.Progress) -> bool:
        seen.append(p)
        return p.partial

    with cerebro.Index(tmp_path / "db", model) as ix:
        with pytest.raises(cerebro.CancelledError):
            ix.add([folder], progress=cancel_inside_the_video)
        interim = [p for p in seen if p.partial]
        assert len(interim) == 1 and interim[0].path.endswith("long.mp4") and interim[0].done == 1
        assert not any(p.partial for p in seen if p.path.endswith("still.png"))
        assert ix.stats().count == 1
        assert ix.add([folder]).frames > 0
