"""A picture of an order's receipt: the ESC/POS bytes the receipt printer would get, read
back by the emulators' decoder and drawn as a PNG, so the page shows what the paper shows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PIL import Image

from drivers.escpos.decoder import EscPosDecoder
from drivers.escpos.printout_image import render_png
from edge.printing.layout import render

DEFAULT_PROFILE, DEFAULT_WIDTH = "TM-T88V", 48  # a node without a receipt printer


def receipt_png(
    document: dict,
    *,
    zone: ZoneInfo,
    profile: str = DEFAULT_PROFILE,
    width: int = DEFAULT_WIDTH,
    logo: Image.Image | None = None,
) -> bytes:
    """The PNG of `document` (a receipt) printed on a `profile` printer `width` columns wide.
    CPU-bound: call it from a worker thread."""
    decoder = EscPosDecoder()
    decoder.feed(render(document, profile=profile, zone=zone, width=width, logo=logo))
    paper = decoder.papers[0] if decoder.papers else decoder.current
    return render_png(paper)
