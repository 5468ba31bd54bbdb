"""The books in files: any report as CSV, Excel or PDF; the general ledger as CSV; the
ledger as a beancount or hledger journal; the trial balance as text. The auditor's
pack that holds them all is in ``auditor_pack``.

Long files are produced as generators of text, so a ledger of millions of postings
is written (or sent) piece by piece, never held whole in memory. Money leaves here
as text with two decimals made from integer cents, never through a float.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from association.core import dates
from association.core.money import CURRENCY, format_kes
from association.core.pdf import draw_qr, qr_modules
from association.core.tabular import formula_safe
from association.core.time import NAIROBI, today_in_nairobi
from association.extensions import db
from association.ledger import reports
from association.ledger.models import Account, AccountType, JournalEntry, Posting, Side
from association.ledger.reports import DATE, MONEY, MONTH, NUMBER, Report, Table
from association.members.models import Member

REPORT_FORMATS = ("html", "csv", "xlsx", "pdf")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "beancount": "text/plain; charset=utf-8",
    "hledger": "text/plain; charset=utf-8",
}
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Rows written to the CSV buffer before a piece is handed on.
_CHUNK_ROWS = 2000


def amount_text(cents: int) -> str:
    """12345 -> "123.45", -5 -> "-0.05": exact, ungrouped, for the machine-read files."""
    return format_kes(cents, currency="", grouped=False)


# --- Reports as CSV, Excel, PDF ---------------------------------------------


def _csv_cell(value, kind: str):
    if value is None:
        return ""
    if kind == MONEY and isinstance(value, int):
        return amount_text(value)
    if kind == MONTH and isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return value
    return formula_safe(str(value))


def _csv_chunks(rows: Iterable[list]) -> Iterator[str]:
    """CSV text in pieces of a few thousand rows (for streaming)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % _CHUNK_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _report_csv_rows(report: Report) -> Iterator[list]:
    yield [report.title]
    yield [report.period]
    for label, value in report.facts:
        yield [label, value]
    for note in report.notes:
        yield [note]
    for table in report.tables:
        yield []
        if table.title:
            yield [table.title]
        yield [c.label for c in table.columns]
        kinds = [c.kind for c in table.columns]
        for row in table.rows:
            yield [_csv_cell(v, k) for v, k in zip(row, kinds, strict=False)]
        if table.totals is not None:
            yield [_csv_cell(v, k) for v, k in zip(table.totals, kinds, strict=False)]


def report_csv(report: Report) -> Iterator[str]:
    """The report as UTF-8 CSV text in pieces (a BOM first, so Excel reads it right):
    title, period and facts, then each table with its header and totals. Money is
    written as plain numbers with two decimals."""
    yield "\ufeff"
    yield from _csv_chunks(_report_csv_rows(report))


def _sheet_title(text: str, taken: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", text).strip()[:28] or "Sheet"
    base, n = title, 2
    while title.lower() in taken:
        title = f"{base[:25]} {n}"
        n += 1
    taken.add(title.lower())
    return title


def _xlsx_value(value, kind: str):
    if value is None:
        return None
    if kind == MONEY and isinstance(value, int):
        return Decimal(value).scaleb(-2)
    if kind == MONTH and isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, (date, int)):
        return value
    return _ILLEGAL_XLSX.sub("", formula_safe(str(value)))


def report_xlsx(report: Report) -> bytes:
    """The report as an Excel workbook: a summary sheet, then one sheet per table, with
    money as numbers (two decimals) and dates as dates."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    taken: set[str] = set()

    def styled(sheet, value, kind=None, font=None):
        cell = WriteOnlyCell(sheet, value=value)
        if kind == MONEY:
            cell.number_format = "#,##0.00"
        elif kind == DATE:
            cell.number_format = "yyyy-mm-dd"
        if font is not None:
            cell.font = font
        return cell

    summary = workbook.create_sheet(_sheet_title(_("Summary"), taken))
    summary.column_dimensions["A"].width = 40
    summary.column_dimensions["B"].width = 40
    summary.append([styled(summary, _ILLEGAL_XLSX.sub("", report.title), font=bold)])
    summary.append([report.period])
    for label, value in report.facts:
        summary.append([_xlsx_value(label, "text"), _xlsx_value(value, "text")])
    for note in report.notes:
        summary.append([_xlsx_value(note, "text")])
    for index, table in enumerate(report.tables, start=1):
        sheet = workbook.create_sheet(_sheet_title(table.title or report.title, taken)
                                      if len(report.tables) > 1 or table.title
                                      else _sheet_title(f"{report.title} {index}", taken))
        kinds = [c.kind for c in table.columns]
        for col, kind in enumerate(kinds, start=1):
            sheet.column_dimensions[get_column_letter(col)].width = {
                MONEY: 15, DATE: 12, MONTH: 10, NUMBER: 10}.get(kind, 28)
        sheet.freeze_panes = "A2"
        sheet.append([styled(sheet, c.label, font=bold) for c in table.columns])
        for row in table.rows:
            sheet.append([styled(sheet, _xlsx_value(v, k), k)
                          for v, k in zip(row, kinds, strict=False)])
        if table.totals is not None:
            sheet.append([styled(sheet, _xlsx_value(v, k), k, bold)
                          for v, k in zip(table.totals, kinds, strict=False)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


_FONTS_READY = False


def _fonts() -> tuple[str, str]:
    """Bitstream Vera, shipped with reportlab, embedded so any reader shows the same text."""
    global _FONTS_READY
    if not _FONTS_READY:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
        pdfmetrics.registerFont(TTFont("VeraBd", "VeraBd.ttf"))
        _FONTS_READY = True
    return "Vera", "VeraBd"


_PDF_WEIGHTS = {MONEY: 1.4, DATE: 1.3, MONTH: 1.1, NUMBER: 0.9}


class _PdfTable:
    """Draws a report on pages with a plain canvas: fast for tables of many thousand rows."""

    def __init__(self, report: Report, landscape: bool):
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.pagesizes import landscape as turn
        from reportlab.pdfgen import canvas

        from association.profile.services import get_profile

        self.font, self.bold = _fonts()
        self.out = io.BytesIO()
        self.size = turn(A4) if landscape else A4
        self.canvas = canvas.Canvas(self.out, pagesize=self.size, pageCompression=1)
        self.canvas.setTitle(report.title)
        self.canvas.setCreator("association")
        profile = get_profile()
        self.header = profile.name if profile else ""
        self.report = report
        self.margin = 36
        self.width = self.size[0] - 2 * self.margin
        self.page = 0
        self.generated = dates.wall_moment(datetime.now(NAIROBI).replace(tzinfo=None))
        self._new_page()

    def _new_page(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        c, top = self.canvas, self.size[1] - self.margin
        c.setFont(self.bold, 11)
        c.drawString(self.margin, top, self._fit(self.report.title, self.bold, 11, self.width))
        c.setFont(self.font, 8)
        c.drawString(self.margin, top - 12,
                     self._fit(f"{self.header} · {self.report.period}", self.font, 8, self.width))
        footer = _("Page %(page)d · generated %(time)s", page=self.page, time=self.generated)
        c.drawRightString(self.size[0] - self.margin, self.margin - 14, footer)
        self.y = top - 30

    @staticmethod
    def _fit(text: str, font: str, size: float, width: float) -> str:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        text = " ".join(str(text).split())
        if stringWidth(text, font, size) <= width:
            return text
        while text and stringWidth(text + "…", font, size) > width:
            text = text[:-1]
        return text + "…"

    def _room(self, needed: float) -> None:
        if self.y - needed < self.margin:
            self._new_page()

    def paragraph(self, text: str, bold: bool = False, size: float = 8.5) -> None:
        from reportlab.lib.utils import simpleSplit

        font = self.bold if bold else self.font
        for line in simpleSplit(" ".join(str(text).split()), font, size, self.width) or [""]:
            self._room(size + 3)
            self.canvas.setFont(font, size)
            self.canvas.drawString(self.margin, self.y, line)
            self.y -= size + 3

    def monospace(self, text: str, size: float = 9) -> None:
        """``text`` in Courier, cut into lines that fit (after a "-" where one can be):
        a checkpoint or a hash to copy by hand, every character shown."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        per_line = max(8, int(self.width // stringWidth("0", "Courier", size)))
        lines, rest = [], text
        while len(rest) > per_line:
            cut = rest.rfind("-", 0, per_line) + 1 or per_line
            lines.append(rest[:cut])
            rest = rest[cut:]
        for line in [*lines, rest]:
            self._room(size + 3)
            self.canvas.setFont("Courier", size)
            self.canvas.drawString(self.margin, self.y, line)
            self.y -= size + 3

    def qr(self, text: str, size: float) -> None:
        """A QR code of ``text``, ``size`` points wide, at the left margin."""
        self._room(size)
        draw_qr(self.canvas, self.margin, self.y, size, qr_modules(text))
        self.y -= size + 4

    def table(self, table: Table) -> None:
        kinds = [c.kind for c in table.columns]
        weights = [_PDF_WEIGHTS.get(k, 2.0) for k in kinds]
        unit = self.width / sum(weights)
        widths = [w * unit for w in weights]
        lefts = [self.margin + sum(widths[:i]) for i in range(len(widths))]
        size = 7.5
        self.y -= 4
        if table.title:
            self._room(40)
            self.paragraph(table.title, bold=True, size=9.5)

        def draw(cells, font):
            c = self.canvas
            c.setFont(font, size)
            for i, (value, kind) in enumerate(zip(cells, kinds, strict=False)):
                text = self._text(value, kind)
                if not text:
                    continue
                text = self._fit(text, font, size, widths[i] - 6)
                if kind in (MONEY, NUMBER):
                    c.drawRightString(lefts[i] + widths[i] - 2, self.y, text)
                else:
                    c.drawString(lefts[i] + 4, self.y, text)
            self.y -= size + 4

        def header():
            draw([c.label for c in table.columns], self.bold)
            self.canvas.line(self.margin, self.y + size + 1, self.margin + self.width,
                             self.y + size + 1)

        self._room(3 * (size + 4))
        header()
        for row in table.rows:
            if self.y - (size + 4) < self.margin:
                self._new_page()
                header()
            draw(row, self.font)
        if table.totals is not None:
            self._room(size + 6)
            self.canvas.line(self.margin, self.y + size + 2, self.margin + self.width,
                             self.y + size + 2)
            draw(table.totals, self.bold)

    @staticmethod
    def _text(value, kind: str) -> str:
        if value is None:
            return ""
        if kind == MONEY and isinstance(value, int):
            return format_kes(value, currency="")
        if kind == MONTH and isinstance(value, date):
            return dates.month(value)
        if isinstance(value, date):
            return dates.day(value)
        return str(value)

    def finish(self) -> bytes:
        self.canvas.save()
        return self.out.getvalue()


def report_pdf(report: Report, after: Callable[[_PdfTable], None] | None = None) -> bytes:
    """The report as an A4 PDF (landscape for wide tables), in the reader's language.

    Args:
        report: the report.
        after: draws what follows the tables (the month close's checkpoint, say).
    """
    wide = max((len(t.columns) for t in report.tables), default=0) > 5
    pdf = _PdfTable(report, landscape=wide)
    for label, value in report.facts:
        pdf.paragraph(f"{label}: {value}")
    for note in report.notes:
        pdf.paragraph(note, size=7.5)
    pdf.paragraph(_("Amounts in KES."), size=7.5)
    for table in report.tables:
        pdf.table(table)
    if after is not None:
        after(pdf)
    return pdf.finish()


def render(report: Report, fmt: str) -> Iterator[bytes]:
    """The report in ``fmt`` (csv, xlsx or pdf) as pieces of bytes.

    Raises:
        ValueError: another format (views check the format first).
    """
    if fmt == "csv":
        return (chunk.encode("utf-8") for chunk in report_csv(report))
    if fmt == "xlsx":
        return iter([report_xlsx(report)])
    if fmt == "pdf":
        return iter([report_pdf(report)])
    raise ValueError(fmt)


# --- The general ledger -----------------------------------------------------


def _postings(start: date | None, end: date | None):
    stmt = (
        sa.select(JournalEntry.id, JournalEntry.entry_date, JournalEntry.memo,
                  JournalEntry.source, JournalEntry.reference, Posting.account_id,
                  Posting.member_id, Posting.side, Posting.amount_cents)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .order_by(JournalEntry.entry_date, JournalEntry.id, Posting.id)
        .execution_options(yield_per=5000)
    )
    if start is not None:
        stmt = stmt.where(JournalEntry.entry_date >= start)
    if end is not None:
        stmt = stmt.where(JournalEntry.entry_date <= end)
    return db.session.execute(stmt)


def _member_numbers() -> dict[int, str]:
    return dict(db.session.execute(sa.select(Member.id, Member.member_no)).all())


def general_ledger_rows(start: date | None, end: date | None) -> Iterator[list]:
    """The header, then one row per posting of the period, in date and entry order."""
    accounts = {a.id: (a.code, formula_safe(reports.account_name(a)))
                for a in db.session.scalars(sa.select(Account))}
    members = _member_numbers()
    yield ["entry_id", "date", "memo", "source", "reference", "account_code", "account_name",
           "member_no", "debit", "credit"]
    result = _postings(start, end)
    try:
        for entry_id, day, memo, source, reference, account_id, member_id, side, amount in result:
            code, name = accounts[account_id]
            amount = amount_text(amount)
            yield [entry_id, day.isoformat(), formula_safe(memo), source.value,
                   formula_safe(reference or ""),
                   code, name, members.get(member_id, "") if member_id else "",
                   amount if side == Side.DEBIT else "", amount if side == Side.CREDIT else ""]
    finally:
        result.close()


def general_ledger_csv(start: date | None, end: date | None) -> Iterator[str]:
    """Every posting of the period as UTF-8 CSV text, in pieces."""
    yield "\ufeff"
    yield from _csv_chunks(general_ledger_rows(start, end))


# --- Journals for beancount and hledger -------------------------------------

ROOTS = {
    AccountType.ASSET: "Assets",
    AccountType.LIABILITY: "Liabilities",
    AccountType.EQUITY: "Equity",
    AccountType.INCOME: "Income",
    AccountType.EXPENSE: "Expenses",
}
#: Where the income and expenses before the period go in the opening balances.
SURPLUS_BROUGHT_FORWARD = "Equity:Surplus-Brought-Forward"


def account_component(text: str) -> str:
    """"Cash on hand" -> "Cash-On-Hand": capitalised ASCII words joined by dashes, which
    both beancount and hledger accept as one part of an account name."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", plain)
    return "-".join(w[:1].upper() + w[1:] for w in words)


def journal_account_names() -> dict[int, str]:
    """Each account's journal name, e.g. "Assets:Cash-On-Hand"; unique, from the English
    name (the code is added where two names would be the same)."""
    names, taken = {}, {SURPLUS_BROUGHT_FORWARD}
    for acc in db.session.scalars(sa.select(Account).order_by(Account.code)):
        part = account_component(acc.name) or f"Account-{account_component(acc.code)}"
        name = f"{ROOTS[acc.type]}:{part}"
        if name in taken:
            name = f"{name}-{account_component(acc.code) or acc.id}"
        taken.add(name)
        names[acc.id] = name
    return names


def one_line(text) -> str:
    """Text on one line, without control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())


def _bean_string(text) -> str:
    return '"' + one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hledger_text(text) -> str:
    """hledger ends a description at ";" and splits payee from note at "|"."""
    return one_line(text).replace(";", ",").replace("|", "/")


def _hledger_tag(text) -> str:
    return re.sub(r"[,;\s]+", "-", one_line(text))


@dataclass
class _Journal:
    start: date | None
    end: date | None
    names: dict[int, str]
    members: dict[int, str]
    types: dict[int, AccountType]
    accounts_used: list[str] = field(default_factory=list)
    open_date: date = date(2000, 1, 1)
    opening: list[tuple[str, int]] = field(default_factory=list)
    cache: dict = field(default_factory=dict)


def _posting_name(journal: _Journal, account_id: int, member_id: int | None) -> str:
    """The journal account of a posting: the member's sub-account when it has a member
    (computed once per account and member: a journal has millions of postings)."""
    key = (account_id, member_id)
    name = journal.cache.get(key)
    if name is None:
        name = journal.names[account_id]
        if member_id is not None:
            member = journal.members.get(member_id)
            name = f"{name}:{account_component(member) if member else f'M{member_id}'}"
        journal.cache[key] = name
    return name


def _prepare(start: date | None, end: date | None) -> _Journal:
    accounts = list(db.session.scalars(sa.select(Account)))
    journal = _Journal(start, end, journal_account_names(), _member_numbers(),
                       {a.id: a.type for a in accounts})
    entry_date = JournalEntry.entry_date
    # Every account and member sub-account ever posted to is declared (an account
    # declared but unused is harmless): read from the (account, member) index alone.
    pairs = db.session.execute(sa.select(Posting.account_id, Posting.member_id).distinct()).all()
    used = {_posting_name(journal, a, m) for a, m in pairs}
    used.update(journal.names.values())
    if start is not None:
        signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                         else_=-Posting.amount_cents)
        before = (sa.select(Posting.account_id, Posting.member_id, sa.func.sum(signed))
                  .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                  .where(entry_date < start)
                  .group_by(Posting.account_id, Posting.member_id)
                  .order_by(Posting.account_id, Posting.member_id))
        surplus = 0
        for account_id, member_id, total in db.session.execute(before):
            total = int(total)
            if not total:
                continue
            if journal.types[account_id] in (AccountType.INCOME, AccountType.EXPENSE):
                surplus += total
            else:
                journal.opening.append((_posting_name(journal, account_id, member_id), total))
        if surplus:
            journal.opening.append((SURPLUS_BROUGHT_FORWARD, surplus))
    used.add(SURPLUS_BROUGHT_FORWARD)
    journal.accounts_used = sorted(used)
    first = db.session.scalar(sa.select(sa.func.min(entry_date)).where(
        *([entry_date >= start] if start else []), *([entry_date <= end] if end else [])))
    candidates = [d for d in (start, first) if d is not None]
    journal.open_date = min(candidates) if candidates else (end or today_in_nairobi())
    return journal


def _entries(journal: _Journal) -> Iterator[tuple[tuple, list[tuple[str, int]]]]:
    """(entry id, date, memo, source, reference) and its (account name, signed cents)."""
    result = _postings(journal.start, journal.end)
    try:
        current, lines = None, []
        for entry_id, day, memo, source, reference, account_id, member_id, side, amount in result:
            if current is None or current[0] != entry_id:
                if current is not None:
                    yield current, lines
                current, lines = (entry_id, day, memo, source.value, reference), []
            lines.append((_posting_name(journal, account_id, member_id),
                          amount if side == Side.DEBIT else -amount))
        if current is not None:
            yield current, lines
    finally:
        result.close()


def books_title() -> str:
    """The association's name, which titles the journals and the auditor's pack."""
    from association.profile.services import get_profile

    profile = get_profile()
    return profile.name if profile else "Association"


def beancount_journal(start: date | None, end: date | None) -> Iterator[str]:
    """The ledger of the period in beancount syntax, with opening balances when the
    period does not start at the beginning; ``bean-check`` accepts it."""
    journal = _prepare(start, end)
    currency = CURRENCY
    yield f"; {one_line(books_title())}: general ledger"
    yield f"\n; {journal.start or '…'} to {journal.end or '…'}, amounts in {currency}\n"
    yield f"option \"title\" {_bean_string(books_title())}\n"
    yield f'option "operating_currency" "{currency}"\n\n'
    yield f"{journal.open_date.isoformat()} commodity {currency}\n\n"
    opened = journal.open_date.isoformat()
    for name in journal.accounts_used:
        yield f"{opened} open {name} {currency}\n"
    if journal.opening:
        yield (f"\n{journal.start.isoformat()} * "
               f"{_bean_string('Opening balances')}\n  source: \"opening\"\n")
        for name, cents in journal.opening:
            yield f"  {name}  {amount_text(cents)} {currency}\n"
    for (entry_id, day, memo, source, reference), lines in _entries(journal):
        parts = [f"\n{day.isoformat()} * {_bean_string(memo)}\n",
                 f'  entry: "{entry_id}"\n  source: "{source}"\n']
        if reference:
            parts.append(f"  reference: {_bean_string(reference)}\n")
        parts += [f"  {name}  {amount_text(cents)} {currency}\n" for name, cents in lines]
        yield "".join(parts)


_HLEDGER_TYPES = {"Assets": "A", "Liabilities": "L", "Equity": "E", "Income": "R",
                  "Expenses": "X"}


def hledger_journal(start: date | None, end: date | None) -> Iterator[str]:
    """The ledger of the period in hledger syntax, every account and the commodity
    declared, so that ``hledger check --strict`` accepts it."""
    journal = _prepare(start, end)
    currency = CURRENCY
    yield f"; {one_line(books_title())}: general ledger\n"
    yield f"; {journal.start or '…'} to {journal.end or '…'}, amounts in {currency}\n\n"
    yield f"commodity 1000.00 {currency}\n\n"
    for root, code in _HLEDGER_TYPES.items():
        yield f"account {root}  ; type: {code}\n"
    for name in journal.accounts_used:
        yield f"account {name}\n"
    if journal.opening:
        yield f"\n{journal.start.isoformat()} * Opening balances  ; source:opening\n"
        for name, cents in journal.opening:
            yield f"    {name}  {amount_text(cents)} {currency}\n"
    for (entry_id, day, memo, source, reference), lines in _entries(journal):
        code = f" ({_hledger_text(reference).replace(')', ']').replace('(', '[')})" \
            if reference else ""
        parts = [f"\n{day.isoformat()} *{code} {_hledger_text(memo)}  "
                 f"; entry:{entry_id}, source:{_hledger_tag(source)}\n"]
        parts += [f"    {name}  {amount_text(cents)} {currency}\n" for name, cents in lines]
        yield "".join(parts)


JOURNALS: dict[str, Callable[[date | None, date | None], Iterator[str]]] = {
    "csv": general_ledger_csv,
    "beancount": beancount_journal,
    "hledger": hledger_journal,
}


# --- Trial balance as text --------------------------------------------------


def trial_balance_text(as_of: date) -> str:
    """The trial balance as aligned plain text, with totals (for the command line)."""
    report = reports.trial_balance_report(as_of)
    table = report.tables[0]
    rows = [[str(r[0]), str(r[1]), amount_text(r[3]) if r[3] else "",
             amount_text(r[4]) if r[4] else ""] for r in table.rows]
    total = ["", _("Total"), amount_text(report.figures["debit"]),
             amount_text(report.figures["credit"])]
    head = [_("Code"), _("Account"), _("Debit"), _("Credit")]
    widths = [max(len(r[i]) for r in [head, total, *rows]) for i in range(4)]

    def line(cells):
        return (f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  "
                f"{cells[2]:>{widths[2]}}  {cells[3]:>{widths[3]}}").rstrip()

    rule = "-" * len(line(["x" * w for w in widths]))
    out = [f"{report.title} · {report.period}", "", line(head), rule]
    out += [line(r) for r in rows]
    out += [rule, line(total), ""]
    balanced = report.figures["difference"] == 0
    out.append(_("Debits equal credits: %(answer)s", answer=_("Yes") if balanced else _("No")))
    return "\n".join(out) + "\n"


def trial_balance_csv(as_of: date) -> str:
    return "".join(report_csv(reports.trial_balance_report(as_of)))
