"""The HTML gallery of `soundnet units`: per unit, its top segments as audio players, with file names and times.

Written into one folder: `index.html` (self-contained: inline CSS, no script), `clips/` (one clip per distinct
`(file, frame)`, shared by the units that chose it), `units.json` (the same segments for programs), and, when asked,
`conv1_filters.png`.
"""

import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .clips import CLIP_FORMATS, ClipError, cut_clip
from .units import UnitSearch, UnitSegment


@dataclass
class GalleryReport:
    """What [`write_gallery`] wrote: the `index` page, the `clips` cut, and the `failures` (clips it could not cut,
    each message naming the file)."""

    index: Path
    clips: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def clip_name(segment: UnitSegment, suffix: str) -> str:
    """`<file index>-<file stem>-f<frame><suffix>`, safe in a URL and unique per `(file, frame)`."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(segment.path).stem)[:40]
    return f"{segment.file_index:04d}-{stem}-f{segment.frame}{suffix}"


def _time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:05.2f}"


STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
section.unit { border-top: 1px solid #ccc; padding: 0.5em 0; }
ol.segments { display: flex; flex-wrap: wrap; gap: 0.8em; list-style: none; padding: 0; }
li.segment { width: 17em; font-size: 0.85em; background: #f5f5f5; padding: 0.4em; border-radius: 4px; }
li.segment audio { width: 100%; }
.score { font-weight: bold; }
"""


def render_html(
    search: UnitSearch, segments: dict[int, list[UnitSegment]], clips: dict, names: dict, extra: str
) -> str:
    """The page: a header with the layer's geometry and the score's definition, then one section per unit."""
    layer, rate = search.layer, search.sampling_rate
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SoundNet {html.escape(layer.name)} units</title><style>{STYLE}</style></head><body>",
        f"<h1>What most activates each {html.escape(layer.name)} unit</h1>",
        "<p>Score: the unit's activation at one frame of the layer (its output after ReLU and max-pool; a class "
        "logit for conv8), over every frame of every file; at most "
        f"{search.per_file or 'any number of'} segment(s) per file and unit; "
        + (
            "every frame counts, including those that read the padding past a file's edges. "
            if search.edge_frames
            else "only frames whose field lies wholly inside the file count. "
        )
        + f"Each clip is the frame's receptive "
        f"field: {layer.receptive_field / rate:.2f} s of audio ({layer.receptive_field} samples at {rate} Hz), "
        f"frames {layer.hop / rate:.3f} s apart, clamped to the file.</p>",
        f"<p>{len(search.paths)} files searched.</p>",
        extra,
    ]
    for unit, unit_segments in segments.items():
        lines.append(f'<section class="unit" id="unit-{unit}" data-unit="{unit}">')
        label = search.fast.config.id2label.get(unit, "") if layer.is_head else ""
        lines.append(f"<h2>{html.escape(layer.name)} unit {unit}{html.escape(f' ({label})' if label else '')}</h2>")
        if unit_segments and not layer.is_head and unit_segments[0].score <= 0:
            lines.append(
                "<p><em>Silent: this unit's output is 0 at every frame of these files (ties listed).</em></p>"
            )
        lines.append('<ol class="segments">')
        for segment in unit_segments:
            name = html.escape(names[segment.file_index])
            attributes = (
                f'data-unit="{unit}" data-rank="{segment.rank}" data-file-index="{segment.file_index}" '
                f'data-path="{html.escape(segment.path)}" data-frame="{segment.frame}" data-score="{segment.score!r}" '
                f'data-start="{segment.start_s!r}" data-end="{segment.end_s!r}"'
            )
            clip = clips.get((segment.file_index, segment.frame))
            player = (
                f'<audio controls preload="metadata" src="clips/{html.escape(clip)}"></audio>'
                if clip
                else "<em>clip unavailable</em>"
            )
            lines.append(
                f'<li class="segment" {attributes}>{player}<br><span class="score">{segment.score:.3g}</span> '
                f"{name}<br>{_time(segment.start_s)}&ndash;{_time(segment.end_s)} (frame {segment.frame})</li>"
            )
        lines.append("</ol></section>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def write_gallery(
    search: UnitSearch,
    output_dir: str | os.PathLike,
    *,
    names: list[str] | None = None,
    clip_format: str = "ogg",
    filters_image: str | None = None,
    failures: list[str] | None = None,
    skipped: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> GalleryReport:
    """
    Cuts the clips of `search`'s top segments and writes the gallery into `output_dir` (see the module docstring).

    Args:
        search: a [`UnitSearch`] that has seen the files.
        names: what to call each searched file (default: its path), e.g. relative to the inputs' folder.
        clip_format: `"ogg"` (Opus) or `"wav"`.
        filters_image: a picture inside `output_dir` to show first (the conv1 filters).
        failures: messages of files the search could not read, listed on the page.
        skipped: messages of files too short for one frame of the layer, listed on the page.
        progress: called with 1 after each clip.
    """
    output = Path(output_dir)
    (output / "clips").mkdir(parents=True, exist_ok=True)
    names = names or search.paths
    suffix = CLIP_FORMATS[clip_format][0]
    segments = search.segments()
    report = GalleryReport(index=output / "index.html")
    clips: dict[tuple[int, int], str] = {}
    for unit_segments in segments.values():
        for segment in unit_segments:
            key = (segment.file_index, segment.frame)
            if key in clips:
                continue
            name = clip_name(segment, suffix)
            try:
                report.clips.append(
                    cut_clip(segment.path, segment.start_s, segment.end_s, output / "clips" / name, clip_format)
                )
                clips[key] = name
            except ClipError as err:
                report.failures.append(str(err))
                clips[key] = None
            if progress is not None:
                progress(1)
    extra = ""
    if filters_image:
        extra += f'<h2>conv1 filters</h2><img src="{html.escape(filters_image)}" alt="conv1 filters" width="900">'
    if failures:
        items = "".join(f"<li>{html.escape(message)}</li>" for message in failures)
        extra += f"<h2>Files that could not be read</h2><ul>{items}</ul>"
    if skipped:
        items = "".join(f"<li>{html.escape(message)}</li>" for message in skipped)
        extra += f"<h2>Files shorter than one {html.escape(search.layer.name)} field (skipped)</h2><ul>{items}</ul>"
    report.index.write_text(render_html(search, segments, clips, dict(enumerate(names)), extra), encoding="utf-8")
    layer = search.layer
    summary = {
        "layer": layer.name,
        "hop": layer.hop,
        "receptive_field": layer.receptive_field,
        "offset": layer.offset,
        "sampling_rate": search.sampling_rate,
        "top_k": search.top_k,
        "per_file": search.per_file,
        "files": search.paths,
        "failures": list(failures or []),
        "skipped": list(skipped or []),
        "units": {
            str(unit): [{**s.to_dict(), "clip": clips.get((s.file_index, s.frame))} for s in unit_segments]
            for unit, unit_segments in segments.items()
        },
    }
    (output / "units.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return report


__all__ = ["GalleryReport", "clip_name", "render_html", "write_gallery"]
