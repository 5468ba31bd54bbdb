"""The shared rules in association.core, each checked where it is written."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from association.core.enums import LabelledEnum
from association.core.money import MAX_CENTS, exact_cents, format_kes, parse_cents
from association.core.tabular import decode_text
from association.core.time import (
    MonthError,
    add_months,
    fiscal_year_start,
    month_end,
    month_nights,
    nairobi_date,
    parse_month,
    to_utc,
    utc_start,
)


def test_months_add_up_across_years():
    assert add_months(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 1)
    assert add_months(date(2026, 3, 1), 0) == date(2026, 3, 1)
    assert month_end(date(2028, 2, 3)) == date(2028, 2, 29)
    assert len(month_nights(date(2026, 2, 10))) == 28


def test_a_financial_year_starts_on_the_first_of_its_month():
    assert fiscal_year_start(date(2026, 6, 30), 7) == date(2025, 7, 1)
    assert fiscal_year_start(date(2026, 7, 1), 7) == date(2026, 7, 1)
    assert fiscal_year_start(date(2026, 12, 31), 1) == date(2026, 1, 1)


@pytest.mark.parametrize("text", ["2026-3", "26-03", "March", "", "2026-13", "2026-03-01"])
def test_a_month_is_written_yyyy_mm(text):
    with pytest.raises(MonthError):
        parse_month(text)
    assert parse_month(" 2026-03 ") == date(2026, 3, 1)


def test_nairobi_days_start_at_21_utc():
    assert utc_start(date(2026, 3, 1)) == datetime(2026, 2, 28, 21, 0)
    assert nairobi_date(datetime(2026, 2, 28, 21, 0)) == date(2026, 3, 1)
    assert nairobi_date(datetime(2026, 2, 28, 20, 59)) == date(2026, 2, 28)
    assert to_utc(datetime(2026, 3, 1, 8, 30)) == datetime(2026, 3, 1, 5, 30)


@pytest.mark.parametrize(("value", "cents"), [
    ("50.00", 5000), (50, 5000), (50.5, 5050), ("1,500", 150000), (Decimal("0.01"), 1),
    ("0", None), ("-5", None), ("1.005", None), ("abc", None), (None, None), (True, None),
    ("NaN", None), ("Infinity", None), (MAX_CENTS // 100 + 1, None),
])
def test_machine_amounts_are_whole_positive_cents(value, cents):
    assert parse_cents(value) == cents


def test_exact_cents_keeps_the_sign_and_refuses_fractions_of_a_cent():
    assert exact_cents(-230.0) == -23000
    assert exact_cents("12.345") is None
    assert format_kes(-12345) == "-KES 123.45"


@pytest.mark.parametrize(("options", "texts"), [
    ({}, ["KES 1,234,567.89", "-KES 0.05", "KES 1,500.00", "KES 0.00"]),
    ({"currency": ""}, ["1,234,567.89", "-0.05", "1,500.00", "0.00"]),
    ({"currency": "", "grouped": False}, ["1234567.89", "-0.05", "1500.00", "0.00"]),
    ({"currency": "", "whole": True}, ["1,234,567.89", "-0.05", "1,500", "0"]),
    ({"currency": "USD", "grouped": False}, ["USD 1234567.89", "-USD 0.05", "USD 1500.00",
                                             "USD 0.00"]),
])
def test_money_is_written_one_way_with_options(options, texts):
    assert [format_kes(c, **options) for c in (123456789, -5, 150000, 0)] == texts
    assert format_kes(None, **options) == ""


def test_decoding_uploads():
    assert decode_text("Jina,Simu\n".encode("utf-16")) == "Jina,Simu\n"
    assert decode_text("Wanjirũ".encode()) == "Wanjirũ"
    assert decode_text("Chébet".encode("cp1252")) == "Chébet"
    assert decode_text(b"a,b\x00c") is None
    assert decode_text(b"\xff\xfe\x00\xd8") is None  # a lone UTF-16 surrogate


class Colour(LabelledEnum):
    RED = "red", "Red label"
    PLAIN = "plain"


def test_labelled_enums_are_their_values_with_a_label():
    assert Colour("red") is Colour.RED and Colour.RED == "red"
    assert Colour.RED.label == "Red label"
    assert Colour.PLAIN.label == "plain"
