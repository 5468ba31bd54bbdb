"""What every PDF the app makes shares: its fonts, table styles and QR codes.

Debian's DejaVu Sans has every letter our members' names use (Kikuyu's ĩ and ũ
too); the PDF viewer's own Helvetica needs nothing embedded but knows only
Latin-1, so text for it is folded (ũ -> u).
"""

import unicodedata
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: The PDF viewer's own fonts: nothing to embed.
BUILTIN_FONTS = ("Helvetica", "Helvetica-Bold")
_unicode: tuple[str, str] | None = None


def unicode_fonts() -> tuple[str, str] | None:
    """(regular, bold) DejaVu Sans, registered once; None when it is not installed."""
    global _unicode
    if _unicode is None:
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        if not (regular.is_file() and bold.is_file()):
            return None
        pdfmetrics.registerFont(TTFont("AppSans", str(regular)))
        pdfmetrics.registerFont(TTFont("AppSans-Bold", str(bold)))
        _unicode = ("AppSans", "AppSans-Bold")
    return _unicode


def document_fonts() -> tuple[str, str]:
    """(regular, bold) for a document of many names: DejaVu Sans where installed."""
    return unicode_fonts() or BUILTIN_FONTS


def fold_for_latin1(text: str) -> str:
    """Text the built-in PDF fonts can show: "Wanjirũ" -> "Wanjiru"; other letters -> "?"."""
    try:
        text.encode("cp1252")  # nearly always: nothing to fold, and one call, not one a letter
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)
