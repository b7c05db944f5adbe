"""Bundled assets: fonts with Cyrillic and Kazakh letters for generated PDF documents."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent
FONT_REGULAR = ASSETS / "fonts" / "DejaVuSans.ttf"
FONT_BOLD = ASSETS / "fonts" / "DejaVuSans-Bold.ttf"
