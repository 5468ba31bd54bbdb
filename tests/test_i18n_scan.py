"""The scanner the Swahili page crawl and the browser sweep use: it must find what it is
meant to find and leave Swahili, names and codes alone."""

from tests.i18n_scan import bad_dates_in, english_in


def test_english_words_are_found_as_written():
    text = "Salio: KES 50.00. Balance due; Paid on Monday. Open | Print statement, owes credit"
    assert english_in(text) == ["Balance", "due", "Paid", "Monday", "Open", "Print",
                                "statement", "owes", "credit"]


def test_swahili_names_and_codes_are_not_english():
    text = ("Salio la mwanachama: KES 1,500.00. Lipa kwa M-Pesa (Paybill 123456, namba ya "
            "akaunti MLK-0042). Jumatatu 30 Nov 2026, 23:07. Mkutano wa wanachama: Wanjiru "
            "Kamau, Mabatini. Risiti RCP-2026-0007, SMS, USSD, PDF, CSV. Jan Feb Apr Jun Jul "
            "Sep Nov Mac Mei Ago Okt Des. Mon-amour, Dueña, Openness, Sunday's")
    assert english_in(text) == ["Sunday"]


def test_short_words_count_only_as_the_english_write_them():
    assert english_in("Dec 2026, 11 PM, No. 4") == ["Dec", "PM", "No"]
    assert english_in("dec pm mar no") == []


def test_iso_and_american_dates_and_twelve_hour_times_are_found():
    text = ("Imelipwa 2026-11-30 saa 11:07 PM; mwezi 2026-11; 11/30/2026 na 12/7/26; "
            "7:45pm; 9 a.m.")
    assert bad_dates_in(text) == ["2026-11-30", "2026-11", "11/30/2026", "12/7/26",
                                  "11:07 PM", "7:45pm", "9 a.m."]


def test_kenyan_dates_codes_and_numbers_are_not_bad_dates():
    text = ("30 Nov 2026, 23:07. Nov 2026. Risiti RCP-2026-0007, MLK-2026-11-A, simu "
            "0712345678, akaunti 2026-1234, saa 07:45, 2/3 ya wanachama, KES 1,500.00")
    assert bad_dates_in(text) == []
