"""The pieces of HTML every part of the report is made of: sections, escaped text, numbers for
people, tables, charts in a figure, and images as inline data: URIs in captioned tiles."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from prep.inspection import contact_sheet as sheets
from prep.inspection.contact_sheet import SampledImage

if TYPE_CHECKING:
    from PIL import Image

THUMBNAIL = 128        # pixels: the side of the square each sample is fitted into


@dataclass
class Section:
    id: str
    title: str
    body: list[str] = field(default_factory=list)

    def add(self, *parts: str) -> "Section":
        self.body.extend(parts)
        return self


def escape(value: object) -> str:
    """`value` as text safe in HTML, quotes included (attributes too)."""
    return html.escape(str(value), quote=True)


def number(value: int | None) -> str:
    """A count with thousands separators, "?" when unknown."""
    return "?" if value is None else f"{value:,}"


def chart_figure(svg: str, caption: str = "") -> str:
    """A chart's <svg> in a figure, with its caption under it."""
    note = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart">{svg}{note}</figure>'


def html_table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; cells are HTML already (escape text with `escape`)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def image_data_uri(image: "Image.Image") -> str:
    """A Pillow image as a data: URI: PNG when that is small (drawings, digits), else JPEG (photos)."""
    png = io.BytesIO()
    image.save(png, "PNG")
    data, mime = png.getvalue(), "image/png"
    if len(data) > 12_000:
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=85)
        if len(jpeg.getvalue()) < len(data):
            data, mime = jpeg.getvalue(), "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def tile(sample: SampledImage | None, caption_lines: Sequence[str], title: str = "") -> str:
    """An image fitted into THUMBNAIL pixels with its caption lines ("not read" when `sample` is None)."""
    if sample is None:
        picture = '<div class="missing">not read</div>'
    else:
        image = sheets.thumbnail(sample.data, THUMBNAIL)
        picture = ('<div class="missing">undecodable</div>' if image is None else
                   f'<img src="{image_data_uri(image)}" width="{image.width}" height="{image.height}" alt="{escape(title)}">')
    caption = "".join(f"<span>{escape(line)}</span>" for line in caption_lines)
    return f'<figure class="tile" title="{escape(title)}"><div class="frame">{picture}</div><figcaption>{caption}</figcaption></figure>'


def split_badges(splits: Sequence[str]) -> str:
    """Split names as badges."""
    return " ".join(f'<span class="badge">{escape(s)}</span>' for s in splits)
