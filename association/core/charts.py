"""Charts drawn on the server: bar charts (grouped or stacked), laid out once as shapes.

A :class:`Chart` holds its figures (categories down the side, one or more series of
numbers) and lays them out as rectangles and text lines in a box 360 units wide, the width
of a small phone, so that the text reads at its own size there. The same shapes are drawn:

- as inline SVG by the ``chart`` macro in ``templates/_charts.html`` (no JavaScript; Jinja
  escapes every label; the figures are also written out as a table for screen readers);
- on a Pillow image (:func:`draw_on_image`) for the WhatsApp picture;
- on a reportlab canvas (:func:`draw_on_canvas`) for the noticeboard poster.

Bars run across, one category above its bars, so that long names ("Landlord (6 or more
premises)") and amounts ("KES 12,500.00") fit on 360 pixels. Money is in cents and written
with :func:`association.core.money.format_kes`; months are written the Kenyan way,
"Nov 2026" (:func:`association.core.dates.month`).
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _

from association.core.money import format_kes

#: The width of the drawing, in its own units (a 360-pixel phone shows it at 1:1).
WIDTH = 360
FONT = 13
#: One colour per series (dark enough for white text and for black text beside it).
PALETTE = ("#1f6f4a", "#c0562b", "#3b5b92", "#8a6d1e", "#6b3f7a")
TEXT_COLOUR = "#222222"
_LABEL_LINE = 18
_BAR = 15
_GAP = 3
_GROUP_GAP = 10
_LEGEND_LINE = 18


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    #: Escaped by whoever draws it (Jinja for SVG); never markup.
    text: str
    anchor: str = "start"  # or "end"
    bold: bool = False
    size: int = FONT


@dataclass
class Series:
    label: str
    values: list[int]
    #: What to write for each value instead of the number (e.g. "fewer than 3").
    texts: list[str] | None = None


@dataclass
class Chart:
    """A bar chart: ``categories`` down the side, one bar per series (or one stacked bar).

    Attributes:
        chart_id: unique on its page (used for ``aria-labelledby``).
        money: the values are cents, written as KES.
        stacked: the series are parts of one bar (e.g. women and men present).
    """

    chart_id: str
    title: str
    categories: list[str]
    series: list[Series]
    money: bool = False
    stacked: bool = False
    #: A sentence saying what the chart shows; the figures follow it in :attr:`description`.
    summary: str = ""
    rects: list[Rect] = field(default_factory=list, init=False)
    texts: list[Text] = field(default_factory=list, init=False)
    height: float = field(default=0, init=False)

    def __post_init__(self):
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError("each series needs one value per category")
        if not self.empty:
            self._layout()

    #: The drawing's width and its text's size, in its own units (for the SVG).
    width = WIDTH
    font_size = FONT

    # --- Figures ----------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """No category, or nothing but zeros: there is nothing to draw."""
        return not self.categories or not any(v for s in self.series for v in s.values)

    def text_of(self, series: Series, index: int) -> str:
        if series.texts is not None:
            return series.texts[index]
        value = series.values[index]
        return format_kes(value) if self.money else str(value)

    def total_text(self, index: int) -> str:
        total = sum(s.values[index] for s in self.series)
        return format_kes(total) if self.money else str(total)

    def rows(self) -> list[tuple[str, list[str]]]:
        """(category, [each series' figure as text]): the chart as a table."""
        return [(category, [self.text_of(s, i) for s in self.series])
                for i, category in enumerate(self.categories)]

    @property
    def description(self) -> str:
        """What a screen reader hears: the summary, then every figure."""
        parts = []
        for category, texts in self.rows():
            if len(self.series) == 1:
                parts.append(f"{category}: {texts[0]}")
            else:
                parts.append(f"{category}: " + ", ".join(
                    f"{s.label} {t}" for s, t in zip(self.series, texts, strict=True)))
        figures = "; ".join(parts) + "." if parts else ""
        return " ".join(x for x in (self.summary, figures) if x)

    @property
    def legend(self) -> list[tuple[str, str]]:
        """(colour, label) of each series, shown when there is more than one."""
        if len(self.series) < 2:
            return []
        return [(PALETTE[i % len(PALETTE)], s.label) for i, s in enumerate(self.series)]

    # --- Layout -----------------------------------------------------------------------

    def _layout(self) -> None:
        y = 0.0
        if self.legend:
            x = 0.0
            y += 2
            for colour, label in self.legend:
                width = 12 + 6 + _text_width(label) + 14
                if x and x + width > WIDTH:
                    x, y = 0.0, y + _LEGEND_LINE
                self.rects.append(Rect(x, y, 12, 12, colour))
                self.texts.append(Text(x + 18, y + 11, label))
                x += width
            y += _LEGEND_LINE + 4
        if self.stacked:
            values_text = [self.total_text(i) for i in range(len(self.categories))]
            biggest = max(sum(s.values[i] for s in self.series)
                          for i in range(len(self.categories)))
        else:
            values_text = [self.text_of(s, i) for s in self.series
                           for i in range(len(self.categories))]
            biggest = max(max(s.values) for s in self.series)
        room = WIDTH - max(_text_width(t) for t in values_text) - 8
        scale = room / biggest if biggest > 0 else 0
        for i, category in enumerate(self.categories):
            y += _LABEL_LINE
            self.texts.append(Text(0, y - 4, _fit(category), bold=True))
            if self.stacked:
                x = 0.0
                for k, s in enumerate(self.series):
                    width = max(s.values[i], 0) * scale
                    if width:
                        self.rects.append(Rect(x, y, width, _BAR, PALETTE[k % len(PALETTE)]))
                    x += width
                self.texts.append(Text(x + 4, y + _BAR - 3, self.total_text(i)))
                y += _BAR + _GAP
            else:
                for k, s in enumerate(self.series):
                    width = max(s.values[i], 0) * scale
                    self.rects.append(Rect(0, y, max(width, 1), _BAR,
                                           PALETTE[k % len(PALETTE)]))
                    self.texts.append(Text(max(width, 1) + 4, y + _BAR - 3,
                                           self.text_of(s, i)))
                    y += _BAR + _GAP
            y += _GROUP_GAP - _GAP
        self.height = y


def _text_width(text: str, size: int = FONT) -> float:
    """About how wide a line of text is (no font metrics in a browser we do not run)."""
    return len(text) * size * 0.58


def _fit(text: str) -> str:
    """``text`` cut to the drawing's width with "…" (the table beside keeps it whole)."""
    most = int(WIDTH / (FONT * 0.62))
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def bar_chart(chart_id: str, title: str, categories: list[str],
              series: list[tuple[str, list[int]]] | list[Series], *, money: bool = False,
              stacked: bool = False, summary: str = "") -> Chart:
    """A chart of ``categories`` by one or more named series of numbers (or cents)."""
    made = [s if isinstance(s, Series) else Series(s[0], list(s[1])) for s in series]
    return Chart(chart_id, title, list(categories), made, money=money, stacked=stacked,
                 summary=summary)


def nothing_yet() -> str:
    return _("Nothing to draw yet: there are no figures for this.")


# --- Other surfaces ---------------------------------------------------------------------


def draw_on_image(chart: Chart, draw, left: float, top: float, width: float, fonts) -> float:
    """Draw ``chart`` with Pillow's ``ImageDraw`` in a box ``width`` pixels wide.

    Args:
        fonts: ``(regular, bold)`` Pillow fonts sized for the scale (FONT * width / WIDTH).

    Returns:
        The height drawn, in pixels.
    """
    scale = width / WIDTH
    for r in chart.rects:
        draw.rectangle([left + r.x * scale, top + r.y * scale,
                        left + (r.x + r.width) * scale, top + (r.y + r.height) * scale],
                       fill=r.colour)
    for t in chart.texts:
        draw.text((left + t.x * scale, top + t.y * scale), t.text, fill=TEXT_COLOUR,
                  font=fonts[1] if t.bold else fonts[0],
                  anchor="rs" if t.anchor == "end" else "ls")
    return chart.height * scale


def draw_on_canvas(chart: Chart, canvas, left: float, top: float, width: float,
                   fonts: tuple[str, str], fold=str) -> float:
    """Draw ``chart`` on a reportlab canvas, its top at ``top`` (PDF points, y upwards).

    Args:
        fold: what makes text printable in ``fonts`` (see ``core.pdf.fold_for_latin1``).

    Returns:
        The height drawn, in points.
    """
    from reportlab.lib import colors

    scale = width / WIDTH
    for r in chart.rects:
        canvas.setFillColor(colors.HexColor(r.colour))
        canvas.rect(left + r.x * scale, top - (r.y + r.height) * scale, r.width * scale,
                    r.height * scale, stroke=0, fill=1)
    canvas.setFillColor(colors.HexColor(TEXT_COLOUR))
    for t in chart.texts:
        canvas.setFont(fonts[1] if t.bold else fonts[0], t.size * scale)
        draw = canvas.drawRightString if t.anchor == "end" else canvas.drawString
        draw(left + t.x * scale, top - t.y * scale, fold(t.text))
    return chart.height * scale
