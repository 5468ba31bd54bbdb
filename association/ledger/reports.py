"""The reports of the books, as plain tables any format can render.

Every report is a :class:`Report`: a title, a period, a few headline facts and
one or more :class:`Table` s whose cells are plain values (text, dates, integer
cents for money). ``exports.py`` renders them as CSV, Excel and PDF, the
templates as HTML. Everything is summed in SQL and long tables are streamed,
so the reports stay quick with tens of thousands of members and millions of
postings. Labels are translated when the report is built, so build it in the
reader's language.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from association.core import dates
from association.core.time import (
    add_months,
    fiscal_year_start,
    month_end,
    month_start,
    nairobi_date,
    today_in_nairobi,
    utc_start,
)
from association.errors import DomainError
from association.extensions import db
from association.i18n import current_language, enum_label
from association.ledger import memos
from association.ledger.accounts import account
from association.ledger.models import (
    Account,
    AccountType,
    DuesCharge,
    EntrySource,
    JournalEntry,
    Payment,
    PaymentMethod,
    Posting,
    Receipt,
    Side,
)
from association.ledger.standing import Standing, standing_of, standings_of
from association.ledger.trial_balance import trial_balance
from association.members.models import Category, Member, Zone

#: Earliest and latest dates a report may be asked for (typos, not history).
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2100, 12, 31)


class ReportError(DomainError):
    """A report was asked for with dates or options it cannot have."""


# --- The shape of a report --------------------------------------------------

TEXT, MONEY, DATE, NUMBER = "text", "money", "date", "number"
#: A month as the first day's date: "Nov 2026" on screens and PDFs, "2026-11" in CSV files.
MONTH = "month"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT


@dataclass(frozen=True)
class Link:
    """A cell that links somewhere on screen; other formats show only its text."""

    text: str
    endpoint: str
    args: dict

    def __str__(self) -> str:
        return self.text


@dataclass
class Table:
    columns: list[Column]
    #: Lists of cells; may be a generator, read once, for long tables.
    rows: Iterable[list]
    title: str = ""
    totals: list | None = None
    #: On screen only, for users with ``action_permission``: a last column with a link
    #: made from each row (e.g. "Record a payment" on the arrears list).
    row_action: "Callable[[list], Link] | None" = None
    action_permission: str | None = None


@dataclass
class Report:
    slug: str
    title: str
    #: "1 Jan 2026 – 31 Mar 2026", or "At 31 Mar 2026".
    period: str
    tables: list[Table] = field(default_factory=list)
    #: (label, value) pairs shown above the tables: totals, checks.
    facts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Key figures in cents, for tests and for the checks of the auditor's pack.
    figures: dict = field(default_factory=dict)


# --- Periods ----------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def parse_date(text: str | None, what: str) -> date | None:
    """A date written the Kenyan way or as YYYY-MM-DD (:func:`dates.parse_day`), None when
    blank.

    Raises:
        ReportError: anything else, or a date outside 2000-2100.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = dates.parse_day(text)
    except dates.DayError as error:
        raise ReportError(_l("%(what)s: %(error)s", what=what, error=error.message)) from None
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ReportError(_l("%(what)s: %(value)s is outside the years the books can cover.",
                             what=what, value=text))
    return value


def parse_period(start_text: str | None, end_text: str | None) -> Period:
    """The period from the ``from`` and ``to`` of a request; by default, the financial
    year to date.

    Raises:
        ReportError: a bad date, or the start after the end.
    """
    from association.profile.services import fiscal_year_start_month

    end = parse_date(end_text, _("To")) or today_in_nairobi()
    start = parse_date(start_text, _("From")) or fiscal_year_start(end, fiscal_year_start_month())
    if start > end:
        raise ReportError(_l("The period starts after it ends: choose a 'from' date on or "
                             "before the 'to' date."))
    return Period(start, end)


def statement_period(start_text: str | None, end_text: str | None) -> Period:
    """A statement's period: as :func:`parse_period`, but by default to the end of this
    month, so that this month's dues, dated its last day, are on it once charged."""
    return parse_period(start_text, end_text or month_end(today_in_nairobi()).isoformat())


def _d(day: date) -> str:
    return dates.day(day)


def period_label(period: Period) -> str:
    return _("%(start)s to %(end)s", start=_d(period.start), end=_d(period.end))


def at_label(day: date) -> str:
    return _("At %(date)s", date=_d(day))


# --- Helpers ----------------------------------------------------------------


def account_name(acc: Account) -> str:
    """The account's name in the reader's language."""
    if current_language() == "sw" and acc.name_sw:
        return acc.name_sw
    return acc.name


def _signed():
    """Debit-positive posting amount, as SQL."""
    return sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                   else_=-Posting.amount_cents)


def _yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def _kes(cents: int) -> str:
    from association.core.money import format_kes

    return format_kes(cents)


def _account_balances(as_of: date | None, start: date | None = None) -> list[tuple[Account, int]]:
    """(account, debit-minus-credit) for every account with a balance, by code."""
    tb = trial_balance(as_of=as_of, start=start)
    return [(row.account, row.debit_cents - row.credit_cents) for row in tb.rows]


# --- Trial balance ----------------------------------------------------------


def trial_balance_report(as_of: date) -> Report:
    """Every account's balance at ``as_of`` on its debit or credit side; totals must agree."""
    tb = trial_balance(as_of=as_of)
    rows = [[row.account.code, account_name(row.account), enum_label(row.account.type),
             row.debit_cents or None, row.credit_cents or None] for row in tb.rows]
    debit, credit = tb.total_debit_cents, tb.total_credit_cents
    report = Report("trial-balance", _("Trial balance"), at_label(as_of))
    report.tables.append(Table(
        [Column(_("Code")), Column(_("Account")), Column(_("Type")),
         Column(_("Debit"), MONEY), Column(_("Credit"), MONEY)],
        rows, totals=["", _("Total"), "", debit, credit],
    ))
    report.facts = [
        (_("Total debits"), _kes(debit)),
        (_("Total credits"), _kes(credit)),
        (_("Debits equal credits"), _yes_no(debit == credit)),
    ]
    if debit != credit:
        report.facts.append((_("Difference"), _kes(debit - credit)))
    report.figures = {"debit": debit, "credit": credit, "difference": debit - credit}
    return report


# --- Income and expenditure -------------------------------------------------


def _accounts_of(types: set[AccountType]) -> list[Account]:
    return list(db.session.scalars(
        sa.select(Account).where(Account.type.in_([t.value for t in types]))
        .order_by(Account.code)))


def income_expenditure(period: Period) -> Report:
    """Income and expenses of the period by account, and the surplus or deficit."""
    balances = {acc.id: amount for acc, amount in _account_balances(period.end, period.start)}
    income_rows, expense_rows = [], []
    income_total = expense_total = 0
    for acc in _accounts_of({AccountType.INCOME, AccountType.EXPENSE}):
        amount = balances.get(acc.id, 0)
        if not amount and not acc.active:
            continue
        if acc.type == AccountType.INCOME:
            income_rows.append([acc.code, account_name(acc), -amount])
            income_total -= amount
        else:
            expense_rows.append([acc.code, account_name(acc), amount])
            expense_total += amount
    columns = [Column(_("Code")), Column(_("Account")), Column(_("Amount"), MONEY)]
    surplus = income_total - expense_total
    report = Report("income-expenditure", _("Income and expenditure"), period_label(period))
    report.tables = [
        Table(columns, income_rows, _("Income"), ["", _("Total income"), income_total]),
        Table(columns, expense_rows, _("Expenditure"),
              ["", _("Total expenditure"), expense_total]),
    ]
    report.facts = [
        (_("Total income"), _kes(income_total)),
        (_("Total expenditure"), _kes(expense_total)),
        (_("Surplus for the period") if surplus >= 0 else _("Deficit for the period"),
         _kes(abs(surplus))),
    ]
    report.figures = {"income": income_total, "expenditure": expense_total, "surplus": surplus}
    return report


# --- Statement of financial position ----------------------------------------


def financial_position(as_of: date) -> Report:
    """Assets, and what funds them: liabilities, the accumulated fund and the surplus."""
    sections = {t: [] for t in AccountType}
    totals = dict.fromkeys(AccountType, 0)
    for acc, amount in _account_balances(as_of):
        # Show every account on its normal side: assets and expenses debit, the rest credit.
        shown = amount if acc.type in (AccountType.ASSET, AccountType.EXPENSE) else -amount
        sections[acc.type].append([acc.code, account_name(acc), shown])
        totals[acc.type] += shown
    assets = totals[AccountType.ASSET]
    liabilities = totals[AccountType.LIABILITY]
    fund = totals[AccountType.EQUITY]
    surplus = totals[AccountType.INCOME] - totals[AccountType.EXPENSE]
    columns = [Column(_("Code")), Column(_("Account")), Column(_("Amount"), MONEY)]
    report = Report("financial-position", _("Statement of financial position"), at_label(as_of))
    report.tables = [
        Table(columns, sections[AccountType.ASSET], _("Assets"), ["", _("Total assets"), assets]),
        Table(columns, sections[AccountType.LIABILITY], _("Liabilities"),
              ["", _("Total liabilities"), liabilities]),
        Table(columns, sections[AccountType.EQUITY] + [
            ["", _("Accumulated surplus (income less expenditure to date)"), surplus]],
            _("Accumulated fund"), ["", _("Total accumulated fund"), fund + surplus]),
    ]
    funded = liabilities + fund + surplus
    report.facts = [
        (_("Total assets"), _kes(assets)),
        (_("Liabilities"), _kes(liabilities)),
        (_("Accumulated fund"), _kes(fund)),
        (_("Accumulated surplus"), _kes(surplus)),
        (_("Liabilities + accumulated fund + surplus"), _kes(funded)),
        (_("Assets equal liabilities + accumulated fund + surplus"), _yes_no(assets == funded)),
    ]
    report.figures = {"assets": assets, "liabilities": liabilities, "fund": fund,
                      "surplus": surplus}
    return report


# --- Cash books -------------------------------------------------------------

CASH_BOOKS = {
    "cash": _l("Cash book: cash on hand"),
    "mpesa": _l("Cash book: M-Pesa"),
    "bank": _l("Cash book: bank"),
}


def _balance_before(account_id: int, start: date) -> int:
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(_signed()), 0))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id, JournalEntry.entry_date < start)
    ))


def cash_book(key: str, period: Period) -> Report:
    """Money in and out of cash, M-Pesa or the bank, with the running balance.

    Raises:
        ReportError: ``key`` is not one of cash, mpesa, bank.
    """
    if key not in CASH_BOOKS:
        raise ReportError(_l("Choose the cash book of cash, M-Pesa or bank."))
    acc = account(key)
    opening = _balance_before(acc.id, period.start)
    in_period = (Posting.account_id == acc.id, JournalEntry.entry_date >= period.start,
                 JournalEntry.entry_date <= period.end)
    money_in, money_out = (int(v or 0) for v in db.session.execute(
        sa.select(
            sa.func.sum(sa.case((Posting.side == Side.DEBIT, Posting.amount_cents), else_=0)),
            sa.func.sum(sa.case((Posting.side == Side.CREDIT, Posting.amount_cents), else_=0)),
        ).join(JournalEntry, JournalEntry.id == Posting.entry_id).where(*in_period)
    ).one())
    closing = opening + money_in - money_out
    paid_receipt = aliased(Receipt)
    void_receipt = aliased(Receipt)
    stmt = (
        sa.select(JournalEntry.entry_date, JournalEntry.id, JournalEntry.reference,
                  JournalEntry.memo, Posting.side, Posting.amount_cents,
                  paid_receipt.number, void_receipt.number)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(Payment, Payment.entry_id == JournalEntry.id)
        .outerjoin(paid_receipt, paid_receipt.payment_id == Payment.id)
        .outerjoin(void_receipt, void_receipt.void_entry_id == JournalEntry.id)
        .where(*in_period)
        .order_by(JournalEntry.entry_date, JournalEntry.id, Posting.id)
        .execution_options(yield_per=2000)
    )

    def rows() -> Iterator[list]:
        balance = opening
        yield [period.start, "", _("Opening balance"), None, None, balance]
        for day, entry_id, reference, memo, side, amount, receipt_no, void_no in (
                db.session.execute(stmt)):
            money = amount if side == Side.DEBIT else -amount
            balance += money
            yield [day, receipt_no or void_no or reference or f"#{entry_id}", memos.describe(memo),
                   amount if money > 0 else None, amount if money < 0 else None, balance]

    report = Report(f"cash-book-{key}", str(CASH_BOOKS[key]), period_label(period))
    report.tables.append(Table(
        [Column(_("Date"), DATE), Column(_("Reference")), Column(_("Description")),
         Column(_("In"), MONEY), Column(_("Out"), MONEY), Column(_("Balance"), MONEY)],
        rows(), totals=[period.end, "", _("Closing balance"), money_in, money_out, closing],
    ))
    report.facts = [
        (_("Account"), f"{acc.code} {account_name(acc)}"),
        (_("Opening balance"), _kes(opening)),
        (_("Money in"), _kes(money_in)),
        (_("Money out"), _kes(money_out)),
        (_("Closing balance"), _kes(closing)),
    ]
    report.figures = {"opening": opening, "in": money_in, "out": money_out, "closing": closing}
    return report


# --- Member statement -------------------------------------------------------


@dataclass
class StatementLine:
    day: date
    entry_id: int
    description: str
    receipt_no: str | None
    charged_cents: int
    paid_cents: int
    credit_cents: int
    balance_cents: int


@dataclass
class MemberStatement:
    member: Member
    period: Period
    opening_cents: int
    opening_credit_cents: int
    lines: list[StatementLine]
    #: Every receipt of the member, newest first: rows of number, paid_on, amount_cents,
    #: method, mpesa_code, entry_id, void_entry_id, is_void and void_reason.
    receipts: list[sa.Row]
    #: The member's unpaid months today, oldest first: rows of month, amount_cents and
    #: open_cents.
    open_charges: list[sa.Row]
    #: Where the member stands today, as every other page shows it.
    standing: Standing

    @property
    def closing_cents(self) -> int:
        return self.lines[-1].balance_cents if self.lines else self.opening_cents

    @property
    def closing_credit_cents(self) -> int:
        return self.lines[-1].credit_cents if self.lines else self.opening_credit_cents


@cache
def _statement_queries() -> tuple[sa.CompoundSelect, sa.Select, sa.Select]:
    """The statement's three queries, built once: the member and the period are bound
    parameters (building a query costs more than running it here) and the accounts are
    found by their role inside the query, each round trip to the database being a good
    part of a statement's cost.

    The first gives the opening balance and the period's entries together: the entries
    (``part`` 1), each with its change to what the member owes and to their credit, and
    the one row of the sums before the period (``part`` 0, no entry), which comes first.
    """
    receivable, credit = (sa.select(Account.id).where(Account.key == key).scalar_subquery()
                          for key in ("dues_receivable", "member_credit"))
    owed_delta = sa.func.sum(sa.case((Posting.account_id == receivable, _signed()), else_=0))
    credit_delta = sa.func.sum(sa.case((Posting.account_id == credit, -_signed()), else_=0))
    members_postings = (Posting.member_id == sa.bindparam("member_id"),
                        Posting.account_id.in_([receivable, credit]))
    # The entries come first in the text, as the result's types are the first part's.
    by_entry = (
        sa.select(sa.literal(1).label("part"), JournalEntry.id.label("entry_id"),
                  JournalEntry.entry_date.label("day"), JournalEntry.memo,
                  JournalEntry.source, owed_delta.label("owed"),
                  credit_delta.label("credit"))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(*members_postings, JournalEntry.entry_date >= sa.bindparam("start"),
               JournalEntry.entry_date <= sa.bindparam("end"))
        .group_by(JournalEntry.id, JournalEntry.entry_date, JournalEntry.memo,
                  JournalEntry.source)
    )
    opening = (
        sa.select(sa.literal(0), sa.null(), sa.null(), sa.null(), sa.null(),
                  sa.func.coalesce(owed_delta, 0), sa.func.coalesce(credit_delta, 0))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(*members_postings, JournalEntry.entry_date < sa.bindparam("start"))
    )
    both = sa.union_all(by_entry, opening)
    both = both.order_by(both.selected_columns.part, both.selected_columns.day,
                         both.selected_columns.entry_id)
    receipts = (
        sa.select(Receipt.number, Payment.paid_on, Payment.amount_cents, Payment.method,
                  Payment.mpesa_code, Payment.entry_id, Receipt.void_entry_id,
                  (Receipt.voided_at.is_not(None)).label("is_void"), Receipt.void_reason)
        .join(Receipt.payment).where(Payment.member_id == sa.bindparam("member_id"))
        .order_by(Receipt.year.desc(), Receipt.seq.desc())
    )
    open_charges = (
        sa.select(DuesCharge.month, DuesCharge.amount_cents, DuesCharge.open_cents)
        .where(DuesCharge.member_id == sa.bindparam("member_id"), DuesCharge.open_cents > 0)
        .order_by(DuesCharge.month)
    )
    return both, receipts, open_charges


def member_statement_data(member: Member, period: Period) -> MemberStatement:
    """One member's dues, payments and credit in the period, with running balances.

    The balance is what the member owes (negative: in credit); the credit column is
    what they have paid in advance. Only this member's postings are read.
    """
    opening_and_entries, receipts_query, open_charges_query = _statement_queries()
    params = {"member_id": member.id, "start": period.start, "end": period.end}
    opening_row, *entries = db.session.execute(opening_and_entries, params).all()
    owed, credit = int(opening_row.owed), int(opening_row.credit)
    opening, opening_credit = owed - credit, credit
    receipts = db.session.execute(receipts_query, params).all()
    # The receipt of each payment's entry, and of each void's reversing entry.
    receipt_of = {r.entry_id: r.number for r in receipts}
    receipt_of.update((r.void_entry_id, r.number) for r in receipts if r.void_entry_id)
    describe = _Describer()
    lines, balance, credit_balance = [], opening, opening_credit
    for _part, entry_id, day, memo, source, owed_delta, credit_delta in entries:
        net = int(owed_delta) - int(credit_delta)
        balance += net
        credit_balance += int(credit_delta)
        receipt_no = receipt_of.get(entry_id)
        lines.append(StatementLine(
            day, entry_id, describe(source, memo, receipt_no), receipt_no,
            max(net, 0), max(-net, 0), credit_balance, balance))
    open_charges = db.session.execute(open_charges_query, params).all()
    return MemberStatement(member, period, opening, opening_credit, lines, receipts,
                           open_charges, standing_of(member.id))


class _Describer:
    """Statement lines in the reader's language (the stored memo is the record's English);
    each text is translated once per statement, not once per line."""

    def __init__(self):
        self.dues = _("Dues for %(month)s")  # formatted below, for each month
        self.payment = _("Payment")
        self.reversed = _("Payment reversed: receipt voided")
        self.credit = _("Credit applied to dues")

    def __call__(self, source: EntrySource, memo: str, receipt_no: str | None) -> str:
        if source == EntrySource.DUES_RUN:
            match = re.search(r"\d{4}-\d{2}", memo)
            if not match:
                return memo
            return self.dues % {"month": dates.month(date.fromisoformat(match.group(0) + "-01"))}
        if source in (EntrySource.PAYMENT, EntrySource.MPESA) and receipt_no:
            return self.payment
        if source == EntrySource.REVERSAL and receipt_no:
            return self.reversed
        if source == EntrySource.CREDIT_APPLIED:
            return self.credit
        return memos.describe(memo)


class NoStatementAccessError(ReportError):
    """The user is neither an official who reads the books nor a member."""


def statement_member_for(user, member_id: int) -> Member | None:
    """The member whose statement ``user`` may read, or None (shown as 404).

    Officials who read the books may open any member's statement; a member only their own.

    Raises:
        NoStatementAccessError: the user may read no statement at all.
    """
    if user.can("ledger.view"):
        return db.session.get(Member, member_id)
    if user.member_id is None:
        raise NoStatementAccessError(_l("You cannot see members' statements."))
    if user.member_id != member_id:
        return None
    return db.session.get(Member, member_id)


def statement_report(data: MemberStatement) -> Report:
    member, period = data.member, data.period
    rows = [[period.start, _("Opening balance"), "", None, None, data.opening_credit_cents,
             data.opening_cents]]
    rows += [[line.day, line.description, line.receipt_no or "", line.charged_cents or None,
              line.paid_cents or None, line.credit_cents, line.balance_cents]
             for line in data.lines]
    charged = sum(line.charged_cents for line in data.lines)
    paid = sum(line.paid_cents for line in data.lines)
    report = Report(f"statement-{member.member_no}",
                    _("Statement of %(name)s (%(no)s)", name=member.full_name,
                      no=member.member_no), period_label(period))
    report.tables.append(Table(
        [Column(_("Date"), DATE), Column(_("Description")), Column(_("Receipt")),
         Column(_("Charged"), MONEY), Column(_("Paid"), MONEY), Column(_("Credit held"), MONEY),
         Column(_("Balance"), MONEY)],
        rows, totals=[period.end, _("Closing balance"), "", charged, paid,
                      data.closing_credit_cents, data.closing_cents],
    ))
    report.tables.append(Table(
        [Column(_("Month"), MONTH), Column(_("Charged"), MONEY), Column(_("Still unpaid"), MONEY)],
        [[c.month, c.amount_cents, c.open_cents] for c in data.open_charges],
        _("Unpaid months (today)"),
        ["", sum(c.amount_cents for c in data.open_charges),
         sum(c.open_cents for c in data.open_charges)],
    ))
    methods = {m: enum_label(m) for m in PaymentMethod}
    valid, void = _("Valid"), _("VOID: %(reason)s")  # formatted below, for each receipt
    report.tables.append(Table(
        [Column(_("Receipt")), Column(_("Paid on"), DATE), Column(_("Amount"), MONEY),
         Column(_("Method")), Column(_("Status"))],
        [[Link(r.number, "receipts.detail", {"number": r.number}), r.paid_on, r.amount_cents,
          " ".join(filter(None, (methods[r.method], r.mpesa_code))),
          void % {"reason": r.void_reason} if r.is_void else valid] for r in data.receipts],
        _("Receipts"),
    ))
    closing = data.closing_cents
    report.facts = [(_("Member"), f"{member.member_no} {member.full_name}"),
                    *data.standing.lines(),
                    (_("Opening balance"), _kes(data.opening_cents)),
                    (_("Charged"), _kes(charged)),
                    (_("Paid"), _kes(paid)),
                    (_("Closing balance"), _kes(closing))]
    report.notes.append(_("Balance, paid up to and paid in advance are as they stand today. In "
                          "the table, the balance is what the member owes; a negative balance "
                          "is credit paid in advance. Credit: advance payments not yet used for "
                          "dues."))
    report.figures = {"opening": data.opening_cents, "charged": charged, "paid": paid,
                      "closing": closing, "credit": data.closing_credit_cents}
    return report


# --- Arrears ----------------------------------------------------------------


def arrears(as_of: date | None = None) -> Report:
    """Members with unpaid dues today, by zone, aged by how long ago the month was.

    Dues are charged at a month's end, so on any day of November October's dues are
    "1 month" old (and November's, if already charged, count there too); September's
    and August's are "2-3 months"; July's and older "4+ months".
    """
    as_of = as_of or today_in_nairobi()
    this_month = month_start(as_of)
    one_month = add_months(this_month, -1)
    three_months = add_months(this_month, -3)
    open_ = DuesCharge.open_cents
    b1 = sa.func.sum(sa.case((DuesCharge.month >= one_month, open_), else_=0))
    b23 = sa.func.sum(sa.case((sa.and_(DuesCharge.month < one_month,
                                       DuesCharge.month >= three_months), open_), else_=0))
    b4 = sa.func.sum(sa.case((DuesCharge.month < three_months, open_), else_=0))
    # Sum each member's open charges first, then fetch the few thousand members who owe;
    # their standings say what they owe once credit held is counted, and since when.
    owed = (
        sa.select(DuesCharge.member_id.label("member_id"),
                  b1.label("b1"), b23.label("b23"), b4.label("b4"),
                  sa.func.sum(open_).label("total"))
        .where(open_ > 0).group_by(DuesCharge.member_id).subquery()
    )
    stmt = (
        sa.select(Member.id, Member.member_no, Member.first_name, Member.other_names,
                  Member.category, Zone.name, owed.c.b1,
                  owed.c.b23, owed.c.b4, owed.c.total)
        .join(Member, Member.id == owed.c.member_id)
        .join(Zone, Zone.id == Member.zone_id)
        .order_by(Zone.name, Member.seq)
    )
    members = db.session.execute(stmt).all()
    standings = standings_of(m.id for m in members)
    zones: dict[str, list] = {}
    rows, labels = [], {}
    for (member_id, member_no, first, other, category, zone,
         one, two_three, four, open_total) in members:
        standing = standings[member_id]
        if not standing.owes:
            continue  # credit not yet applied covers the open months
        # Credit held beside open months settles the oldest first, as the next dues run will.
        four, two_three, one = _less_oldest_first(
            [int(four), int(two_three), int(one)], int(open_total) - standing.balance_cents)
        total = standing.balance_cents
        if category not in labels:
            labels[category] = enum_label(category)
        rows.append([zone, Link(member_no, "reports.statement", {"member_id": member_id}),
                     f"{first} {other}", labels[category], standing.unpaid_months,
                     standing.oldest_unpaid, standing.paid_up_to,
                     one or None, two_three or None, four or None, total])
        z = zones.setdefault(zone, [zone, 0, 0, 0, 0, 0])
        z[1] += 1
        z[2] += one
        z[3] += two_three
        z[4] += four
        z[5] += total
    totals = [sum(z[i] for z in zones.values()) for i in range(1, 6)]
    bucket_columns = [Column(_("1 month"), MONEY), Column(_("2-3 months"), MONEY),
                      Column(_("4+ months"), MONEY), Column(_("Total owed"), MONEY)]
    report = Report("arrears", _("Arrears by zone"), at_label(as_of))
    report.tables = [
        Table([Column(_("Zone")), Column(_("Members in arrears"), NUMBER)] + bucket_columns,
              list(zones.values()), _("Summary by zone"), [_("All zones")] + totals),
        Table([Column(_("Zone")), Column(_("Member")), Column(_("Name")), Column(_("Category")),
               Column(_("Unpaid months"), NUMBER), Column(_("Oldest unpaid month"), MONTH),
               Column(_("Paid up to"), MONTH)] + bucket_columns[:3]
              + [Column(_("Balance"), MONEY)],
              rows, _("Members in arrears"),
              [_("All zones"), "", "", "", sum(r[4] for r in rows), "", ""] + totals[1:],
              row_action=lambda row: Link(_("Record a payment"), "ledger.payment_new",
                                          {"member": row[1].text}),
              action_permission="ledger.record"),
    ]
    report.facts = [
        (_("Members in arrears"), str(totals[0])),
        (_("Total owed"), _kes(totals[4])),
        (_("1 month"), _kes(totals[1])),
        (_("2-3 months"), _kes(totals[2])),
        (_("4+ months"), _kes(totals[3])),
    ]
    report.notes.append(_("Unpaid dues as they stand today, aged from the month they are for: "
                          "\"1 month\" is last month's dues (and this month's, if charged), "
                          "\"2-3 months\" the two months before, \"4+ months\" anything older."))
    report.figures = {"members": totals[0], "one": totals[1], "two_three": totals[2],
                      "four_plus": totals[3], "total": totals[4],
                      "by_member": {str(r[1]): r[7:11] for r in rows}}
    return report


def arrears_totals() -> tuple[int, int]:
    """(members in arrears, total they owe) as the arrears list counts them (members with
    unpaid months who owe once credit held is counted), without building the list."""
    from association.ledger.balances import net_owed

    with_unpaid = set(db.session.scalars(
        sa.select(DuesCharge.member_id).where(DuesCharge.open_cents > 0).distinct()))
    owing = [net for member_id, net in net_owed().items() if net > 0 and member_id in with_unpaid]
    return len(owing), sum(owing)


def _less_oldest_first(amounts: list[int], less: int) -> list[int]:
    """``amounts`` (oldest first) with ``less`` taken off the oldest first."""
    result = []
    for amount in amounts:
        taken = min(amount, max(less, 0))
        less -= taken
        result.append(amount - taken)
    return result


# --- Receipts register ------------------------------------------------------


@dataclass
class NumberingCheck:
    year: int
    first: str
    last: str
    count: int
    #: Numbers of the year up to the last one that do not exist.
    missing: list[int]


def _numbering(short_code: str, period: Period) -> list[NumberingCheck]:
    """For each year with receipts issued in the period: is every number from 1 to the
    period's last one there?"""
    in_period = (Receipt.issued_at >= utc_start(period.start),
                 Receipt.issued_at < utc_start(period.end + timedelta(days=1)))
    checks = []
    for year, first, last, count in db.session.execute(
            sa.select(Receipt.year, sa.func.min(Receipt.seq), sa.func.max(Receipt.seq),
                      sa.func.count(Receipt.id))
            .where(*in_period).group_by(Receipt.year).order_by(Receipt.year)):
        upto = db.session.scalar(sa.select(sa.func.count(Receipt.id)).where(
            Receipt.year == year, Receipt.seq <= last))
        missing = []
        if upto != last:
            present = set(db.session.scalars(sa.select(Receipt.seq).where(
                Receipt.year == year, Receipt.seq <= last)))
            missing = [n for n in range(1, last + 1) if n not in present]
        checks.append(NumberingCheck(year, f"{short_code}-{year}-{first:06d}",
                                     f"{short_code}-{year}-{last:06d}", count, missing))
    return checks


def receipts_register(period: Period) -> Report:
    """Every receipt issued in the period, voided ones included, in number order, and
    the check that the numbering has no gaps."""
    from association.profile.services import get_profile

    profile = get_profile()
    short_code = profile.short_code if profile else ""
    in_period = (Receipt.issued_at >= utc_start(period.start),
                 Receipt.issued_at < utc_start(period.end + timedelta(days=1)))
    valid = sa.func.sum(sa.case((Receipt.voided_at.is_(None), Payment.amount_cents), else_=0))
    void = sa.func.sum(sa.case((Receipt.voided_at.is_not(None), Payment.amount_cents), else_=0))
    count, void_count, valid_total, void_total = (int(v or 0) for v in db.session.execute(
        sa.select(sa.func.count(Receipt.id),
                  sa.func.count(Receipt.voided_at), valid, void)
        .join(Payment, Payment.id == Receipt.payment_id).where(*in_period)).one())
    stmt = (
        sa.select(Receipt.number, Receipt.issued_at, Payment.paid_on, Member.member_no,
                  Member.first_name, Member.other_names, Payment.amount_cents, Payment.method,
                  Payment.mpesa_code, Payment.reference, Receipt.voided_at, Receipt.void_reason)
        .join(Payment, Payment.id == Receipt.payment_id)
        .join(Member, Member.id == Payment.member_id)
        .where(*in_period)
        .order_by(Receipt.year, Receipt.seq)
        .execution_options(yield_per=2000)
    )
    labels = {m: enum_label(m) for m in PaymentMethod}
    valid_text, void_text = _("Valid"), _("VOID")

    def rows() -> Iterator[list]:
        for (number, issued_at, paid_on, member_no, first, other, amount, method, code,
             reference, voided_at, reason) in db.session.execute(stmt):
            yield [Link(number, "receipts.detail", {"number": number}),
                   nairobi_date(issued_at), paid_on, member_no, f"{first} {other}", amount,
                   labels.get(PaymentMethod(method), method), code or reference or "",
                   void_text if voided_at else valid_text, reason or ""]

    checks = _numbering(short_code, period)
    report = Report("receipts-register", _("Receipts register"), period_label(period))
    report.tables.append(Table(
        [Column(_("Number")), Column(_("Issued"), DATE), Column(_("Paid on"), DATE),
         Column(_("Member")), Column(_("Name")), Column(_("Amount"), MONEY),
         Column(_("Method")), Column(_("M-Pesa code / reference")), Column(_("Status")),
         Column(_("Reason for voiding"))],
        rows(), totals=[_("Total of valid receipts"), "", "", "", "", valid_total, "", "", "",
                        ""],
    ))
    gapless = all(not c.missing for c in checks)
    report.facts = [
        (_("Receipts issued"), str(count)),
        (_("Of which voided"), str(void_count)),
        (_("Valid receipts total"), _kes(valid_total)),
        (_("Voided receipts total"), _kes(void_total)),
    ]
    for check in checks:
        if check.missing:
            shown = ", ".join(f"{short_code}-{check.year}-{n:06d}" for n in check.missing[:20])
            value = _("GAPS: %(count)d numbers missing: %(numbers)s",
                      count=len(check.missing), numbers=shown)
        else:
            value = _("No gaps: %(count)d receipts in this period, %(first)s to %(last)s, "
                      "and every number of %(year)d up to %(last)s exists.",
                      count=check.count, first=check.first, last=check.last, year=check.year)
        report.facts.append((_("Numbering %(year)d", year=check.year), value))
    if not checks:
        report.facts.append((_("Numbering"), _("No receipts were issued in this period.")))
    report.notes.append(_("Receipts are listed by the date they were issued. A voided receipt "
                          "keeps its number; its payment was reversed."))
    report.figures = {"count": count, "void_count": void_count, "valid": valid_total,
                      "void": void_total, "gapless": gapless,
                      "missing": [n for c in checks for n in c.missing],
                      "first": checks[0].first if checks else None,
                      "last": checks[-1].last if checks else None}
    return report


# --- Collections ------------------------------------------------------------


def collections(period: Period) -> Report:
    """Money received from members in the period (voided receipts left out), by month,
    zone and category, split by method."""
    year = sa.extract("year", Payment.paid_on)
    month = sa.extract("month", Payment.paid_on)

    def by_method(method: PaymentMethod):
        return sa.func.sum(sa.case((Payment.method == method, Payment.amount_cents), else_=0))

    stmt = (
        sa.select(year, month, Zone.name, Member.category, sa.func.count(Payment.id),
                  by_method(PaymentMethod.CASH), by_method(PaymentMethod.MPESA),
                  by_method(PaymentMethod.BANK), sa.func.sum(Payment.amount_cents))
        .join(Receipt, Receipt.payment_id == Payment.id)
        .join(Member, Member.id == Payment.member_id)
        .join(Zone, Zone.id == Member.zone_id)
        .where(Receipt.voided_at.is_(None), Payment.paid_on >= period.start,
               Payment.paid_on <= period.end)
        .group_by(year, month, Zone.name, Member.category)
        .order_by(year, month, Zone.name, Member.category)
    )
    detail, by_month, by_zone, by_category = [], {}, {}, {}
    for y, m, zone, category, count, cash, mpesa, bank, total in db.session.execute(stmt):
        label = date(int(y), int(m), 1)
        values = [int(count), int(cash), int(mpesa), int(bank), int(total)]
        detail.append([label, zone, enum_label(Category(category))] + values)
        for bucket, key in ((by_month, label), (by_zone, zone),
                            (by_category, enum_label(Category(category)))):
            row = bucket.setdefault(key, [key, 0, 0, 0, 0, 0])
            for i, v in enumerate(values, start=1):
                row[i] += v
    grand = [sum(r[i] for r in by_month.values()) for i in range(1, 6)]
    money = [Column(_("Number of payments"), NUMBER), Column(_("Cash"), MONEY),
             Column(_("M-Pesa"), MONEY), Column(_("Bank"), MONEY), Column(_("Total"), MONEY)]
    total_row = [_("Total")] + grand
    report = Report("collections", _("Collections"), period_label(period))
    report.tables = [
        Table([Column(_("Month"), MONTH)] + money, list(by_month.values()), _("By month"),
              total_row),
        Table([Column(_("Zone"))] + money, sorted(by_zone.values()), _("By zone"), total_row),
        Table([Column(_("Category"))] + money, sorted(by_category.values()), _("By category"),
              total_row),
        Table([Column(_("Month"), MONTH), Column(_("Zone")), Column(_("Category"))] + money,
              detail,
              _("By month, zone and category"), [_("Total"), "", ""] + grand),
    ]
    report.facts = [(_("Number of payments"), str(grand[0])),
                    (_("Total collected"), _kes(grand[4]))]
    report.notes.append(_("Payments by the date paid; voided receipts are left out."))
    report.figures = {"count": grand[0], "cash": grand[1], "mpesa": grand[2], "bank": grand[3],
                      "total": grand[4]}
    return report
