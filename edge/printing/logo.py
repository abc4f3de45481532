"""The store's logo at the top of receipts, read from its image file.

The file is read again when it changes, so a manager can replace it without a restart. A
file that cannot be read is logged once and receipts print without a logo: a missing
picture never holds up a receipt.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

MAX_WIDTH = 384  # dots: two thirds of 80 mm paper, and all of 58 mm paper


class ReceiptLogo:
    """The logo image (or None: no logo set, or its file unusable)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._image: Image.Image | None = None

    def image(self) -> Image.Image | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except OSError as exc:
            return self._unusable(None, f"cannot read it: {exc.strerror or exc}")
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            try:
                with Image.open(self.path) as opened:
                    image = opened.convert("L")
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
                return self._unusable(stamp, f"not an image Pillow can read: {exc}")
            if image.width > MAX_WIDTH:
                height = max(1, round(image.height * MAX_WIDTH / image.width))
                image = image.resize((MAX_WIDTH, height))
            self._stamp, self._image = stamp, image
        return self._image

    def _unusable(self, stamp: tuple[int, int] | None, reason: str) -> None:
        if self._stamp != stamp or self._image is not None:
            log.error("receipt logo %s: %s; receipts print without it", self.path, reason)
        self._stamp, self._image = stamp, None
        return None
