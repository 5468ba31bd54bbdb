"""Real documents for upload tests (Pillow's photos, reportlab's PDFs), and the disguised
ones an attacker sends: a web page or SVG behind a photo's or a PDF's header."""

import io

from PIL import Image
from reportlab.pdfgen import canvas


def photo(kind: str = "JPEG", size=(8, 8)) -> bytes:
    """A real photo Pillow wrote: JPEG, PNG or WEBP."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, kind)
    return out.getvalue()


def pdf(text: str = "Receipt: 3 torches, KES 1,200", title: str | None = None) -> bytes:
    """A real one-page PDF reportlab wrote (its title is in the file as plain text)."""
    out = io.BytesIO()
    page = canvas.Canvas(out)
    if title:
        page.setTitle(title)
    page.drawString(72, 720, text)
    page.save()
    return out.getvalue()


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'

#: (name, bytes): each opens as the photo or PDF it starts as, and carries a page.
POLYGLOTS = [
    ("jpeg-then-html.jpg", photo("JPEG") + HTML),
    ("png-then-svg.png", photo("PNG") + SVG),
    ("webp-then-html.webp", photo("WEBP") + b"\n" + HTML),
    ("pdf-then-html.pdf", pdf() + HTML),
    ("pdf-comment-html.pdf", pdf().replace(b"\n", b"\n% <html><script>alert(1)</script>\n", 1)),
    ("pdf-with-iframe.pdf", pdf().replace(b"%%EOF", b'<iframe src="javascript:alert(1)">\n%%EOF')),
]
