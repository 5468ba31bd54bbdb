"""What people do with the app, end to end in a real browser (see conftest.py).

Each journey runs four times: phone and laptop, English and Swahili. Words on
the page differ by language, so the journeys find things by form field names
and addresses, and check facts (numbers, amounts, member numbers) that read the
same in both languages.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

MEMBER_NO = re.compile(r"\bMLK-\d{4}\b")
RECEIPT_NO = re.compile(r"\bMLK-\d{4}-\d{6}\b")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (Debian: poppler-utils, zbar-tools, beancount from PyPI)"
    return path


def _run(*args) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


def pdf_text(path) -> str:
    return " ".join(_run(_tool("pdftotext"), "-layout", str(path), "-").split())


def qr_codes(path) -> list[str]:
    prefix = path.with_suffix("")
    _run(_tool("pdftoppm"), "-r", "150", "-png", str(path), str(prefix))
    found = []
    for image in sorted(path.parent.glob(f"{prefix.name}*.png")):
        found += _run(_tool("zbarimg"), "--raw", "-q", str(image)).split()
    return found


def test_treasurer_records_a_cash_payment_runs_dues_and_closes_a_month(visit):
    visit.login("treasurer")
    visit.shot("books")
    # A member in arrears, from the arrears list.
    visit.open("/reports/arrears")
    visit.shot("arrears")
    tables = visit.page.locator("main table")
    member_no = MEMBER_NO.search(tables.nth(tables.count() - 1).inner_text()).group(0)
    visit.open(f"/ledger/payments/new?member={member_no}")
    visit.shot("payment-form")
    visit.page.fill("#amount", "150")
    visit.page.select_option("#method", "cash")
    visit.follow(visit.page.locator("main form button[type=submit]"))
    assert "/receipts/" in visit.page.url
    visit.shot("receipt")
    receipt_no = RECEIPT_NO.search(visit.page.url).group(0)
    assert member_no in visit.text() and "150.00" in visit.text()
    # The receipt PDF, read back: member, amount, number, and the QR code's address.
    href = visit.page.locator(f"a[href$='/receipts/{receipt_no}.pdf?layout=a5']")
    pdf = visit.fetch(href.get_attribute("href"), "receipt.pdf")
    text = pdf_text(pdf)
    assert receipt_no in text and member_no in text and "KES 150.00" in text
    assert ("one hundred and fifty" in text.lower()) if visit.language == "en" \
        else ("shilingi mia moja na hamsini" in text.lower())
    codes = qr_codes(pdf)
    assert len(codes) == 1 and codes[0].startswith(f"{visit.base}/verify/{receipt_no}?c=")
    # The check page the QR code leads to says the receipt is genuine.
    visit.page.goto(codes[0])
    visit.shot("verify")
    assert receipt_no in visit.text() and "150.00" in visit.text()
    # This month's dues: running them again charges nobody twice.
    visit.open("/ledger/dues")
    visit.page.fill("#month", date.today().strftime("%Y-%m"))
    visit.follow(visit.page.locator("form[action$='/ledger/dues/run'] button[type=submit]"))
    visit.shot("dues-run")
    assert visit.page.locator(".flash").count() >= 1
    # Close last month, which has ended and is still open.
    visit.open("/ledger/periods")
    close = visit.page.locator("main table form[action$='/ledger/periods/close']").first
    month = close.locator("input[name=month]").get_attribute("value")
    visit.follow(close.locator("button"))
    visit.shot("month-closed")
    # The flash names the month the Kenyan way ("Nov 2026", never "2026-11").
    assert visit.page.locator(".flash.success").count() == 1 and month not in visit.text()
    assert visit.page.locator(f"main table input[name=month][value='{month}']").count() == 0


def test_auditor_downloads_the_pack_and_its_journal_passes_bean_check(visit, tmp_path):
    visit.login("auditor")
    visit.open("/reports")
    visit.shot("reports")
    pack = visit.download(lambda: visit.page.locator(
        "a[href*='/reports/auditor-pack']").first.click())
    with zipfile.ZipFile(pack) as archive:
        names = set(archive.namelist())
        assert {"MANIFEST.txt", "journal.beancount", "journal.hledger",
                "general-ledger.csv"} <= names
        journal = tmp_path / "journal.beancount"
        journal.write_bytes(archive.read("journal.beancount"))
        manifest = archive.read("MANIFEST.txt").decode("utf-8")
    bean_check = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    result = subprocess.run([bean_check, str(journal)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"[0-9a-f]{64}", manifest)


def test_visitor_opens_a_receipt_verification_link(visit):
    """A resident checks a receipt from its QR code, without logging in; a forged
    check code reveals nothing."""
    visit.login("treasurer")
    visit.open("/reports/receipts")
    number = RECEIPT_NO.search(visit.text()).group(0)
    visit.open(f"/receipts/{number}")
    href = visit.page.locator(f"a[href$='/receipts/{number}.pdf?layout=roll']")
    pdf = visit.fetch(href.get_attribute("href"), "roll.pdf")
    link = qr_codes(pdf)[0]
    visit.page.context.clear_cookies()  # a visitor, not logged in
    response = visit.page.goto(link)
    visit.shot("verify-genuine")
    assert response.status == 200 and number in visit.text() and "KES" in visit.text()
    forged = re.sub(r"c=[^&]+", "c=WRONGCODE1", link)
    response = visit.page.goto(forged)
    visit.shot("verify-forged")
    assert response.status == 404 and "KES" not in visit.text()


# --- A member pays by M-Pesa ------------------------------------------------------------

KES = re.compile(r"-?KES\s*-?[\d,]+\.\d{2}")


def cents(text: str) -> int:
    """KES 1,234.50 (or -KES 50.00) as cents."""
    found = KES.search(text)
    assert found, text
    value = found.group(0)
    digits = re.sub(r"[^\d.]", "", value)
    whole, part = digits.split(".")
    return (-1 if "-" in value else 1) * (int(whole) * 100 + int(part))


def statement_figures(visit) -> dict:
    """The statement's own numbers: the facts at the top, the columns, the totals row."""
    # Member, the standing (balance first, then paid up to and paid in advance when there
    # are), then the period's opening balance, charged, paid and closing balance.
    facts = visit.page.locator("dl.facts dd").all_inner_texts()
    balance = cents(facts[1])
    opening, charged, paid, closing = (cents(text) for text in facts[-4:])
    lines = visit.page.locator("main table.report").first
    rows = [[cell.strip() for cell in row] for row in (
        r.locator("td").all_inner_texts() for r in lines.locator("tbody tr").all())]
    total = lines.locator("tfoot td").all_inner_texts()
    receipts = visit.page.locator("main table.report").last.locator("tbody tr td:first-child")
    return {"opening": opening, "charged": charged, "paid": paid, "closing": closing,
            "balance": balance, "owed": cents(total[6]),
            "charged_column": sum(cents(r[3]) for r in rows if r[3]),
            "paid_column": sum(cents(r[4]) for r in rows if r[4]),
            "last_balance": cents(rows[-1][6]), "total_charged": cents(total[3]),
            "total_paid": cents(total[4]),
            "receipts": [t.strip() for t in receipts.all_inner_texts()]}


def check_statement(figures: dict) -> None:
    """A statement agrees with itself: opening + charged - paid = closing balance (what is
    owed, or credit when negative), in the facts, the columns and the totals row; and, as
    it runs to this month's end, with the balance every other page shows (never negative:
    money paid ahead is shown apart)."""
    assert figures["opening"] + figures["charged"] - figures["paid"] == figures["owed"]
    assert figures["charged"] == figures["charged_column"] == figures["total_charged"]
    assert figures["paid"] == figures["paid_column"] == figures["total_paid"]
    assert figures["owed"] == figures["last_balance"] == figures["closing"]
    assert figures["balance"] == max(figures["owed"], 0)


def open_own_statement(visit) -> dict:
    visit.open("/me")
    member_no = MEMBER_NO.search(visit.page.locator("main h1").inner_text()).group(0)
    visit.follow(visit.page.locator("main a[href$='/statement']").first)
    assert re.search(r"/members/\d+/statement", visit.page.url)
    figures = statement_figures(visit)
    check_statement(figures)
    figures["member_no"] = member_no
    return figures


def send_prompt(visit, phone: str, choice: str | None = None, amount: str | None = None) -> int:
    """Fill the pay page and send the prompt; return the amount asked, in cents."""
    visit.open("/mpesa/pay")
    if choice:
        option = visit.page.locator(f"input[name=choice][value='{choice}']")
        asked = cents(visit.page.locator(f"label[for='{option.get_attribute('id')}']").inner_text())
        option.check()
    else:
        visit.page.locator("input[name=choice][value=other]").check()
        visit.page.fill("#amount", amount)
        asked = int(amount) * 100
    visit.page.fill("#phone", phone)
    visit.shot("pay-form")
    visit.follow(visit.page.locator("form.mpesa-pay button[type=submit]"))
    return asked


def test_member_pays_by_stk_push_and_sees_the_receipt(visit):
    """The member reads their statement, pays by STK push through the local Daraja
    sandbox, watches the page that refreshes itself (no JavaScript) turn into the
    receipt, finds it on their statement and reads the PDF back; a cancelled prompt
    shows why and credits nothing."""
    pages = []
    visit.page.on("response", lambda r: pages.append((r.url, r.status, r.headers.get("refresh"))))
    visit.login("member")
    before = open_own_statement(visit)
    visit.shot("statement")
    member_no = before["member_no"]

    asked = send_prompt(visit, "0712 345 678", choice="months-3")
    status_url = visit.page.url
    assert re.search(r"/mpesa/pay/\d+$", status_url), status_url
    visit.shot("pending")
    assert visit.page.locator("main .badge.stk-pending, main .badge.stk-sending").count() == 1
    assert visit.page.locator("meta[http-equiv=refresh]").count() == 1
    # The sandbox's phone answers after a few seconds; the page reloads itself into the receipt.
    visit.page.wait_for_url(re.compile(r"/receipts/MLK-\d{4}-\d{6}$"), timeout=60_000)
    visit.shot("receipt")
    receipt_no = RECEIPT_NO.search(visit.page.url).group(0)
    refreshed = [p for p in pages if p[0] == status_url]
    assert len(refreshed) >= 2 and all(p[1] == 200 and p[2] for p in refreshed[:-1]), refreshed
    text = visit.text()
    assert member_no in text and receipt_no in text
    assert f"KES {asked // 100:,}.00" in text
    assert visit.page.locator(".flash.success").count() == 1
    mpesa_code = re.search(r"\b[A-Z0-9]{10}\b", visit.page.locator(".flash.success").inner_text())
    assert mpesa_code, visit.page.locator(".flash.success").inner_text()

    # The receipt on the member's own statement, and the payment in its figures.
    after = open_own_statement(visit)
    visit.shot("statement-paid")
    assert after["receipts"][0] == receipt_no
    assert after["paid"] == before["paid"] + asked
    assert after["owed"] == before["owed"] - asked

    # The receipt PDF, read back: member, amount, number, M-Pesa code, QR code.
    visit.open(f"/receipts/{receipt_no}")
    href = visit.page.locator(f"a[href$='/receipts/{receipt_no}.pdf?layout=a5']")
    pdf = visit.fetch(href.get_attribute("href"), "receipt.pdf")
    pdf_words = pdf_text(pdf)
    assert receipt_no in pdf_words and member_no in pdf_words
    assert f"KES {asked // 100:,}.00" in pdf_words and mpesa_code.group(0) in pdf_words
    codes = qr_codes(pdf)
    assert len(codes) == 1 and codes[0].startswith(f"{visit.base}/verify/{receipt_no}?c=")

    # A prompt the member cancels on the phone (the sandbox: numbers ending 1032).
    send_prompt(visit, "0712 341 032", amount="50")
    failed_url = visit.page.url
    assert re.search(r"/mpesa/pay/\d+$", failed_url)
    visit.page.locator("main .flash.error").wait_for(timeout=60_000)
    visit.shot("cancelled")
    assert visit.page.url == failed_url
    assert visit.page.locator("main .badge.stk-failed").count() == 1
    assert visit.page.locator("meta[http-equiv=refresh]").count() == 0
    assert visit.page.locator("main a.button[href$='/mpesa/pay']").count() == 1
    unchanged = open_own_statement(visit)
    assert unchanged["paid"] == after["paid"] and unchanged["receipts"] == after["receipts"]


# --- The patrol coordinator ---------------------------------------------------------------

NAIROBI = ZoneInfo("Africa/Nairobi")


def test_coordinator_generates_a_roster_approves_a_swap_and_records_the_nights(visit):
    """The coordinator generates next month's roster; the demo's patroller login (the
    member) offers a shift in the browser, another volunteer takes it (no login in the
    demo: through the app's own service, as their phone would), and the coordinator
    approves the swap; then records attendance for last night's shifts and an incident
    handed to the police with its OB number."""
    server = visit.base
    now = datetime.now(NAIROBI)
    next_month = (now.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    month = next_month.strftime("%Y-%m")

    visit.login("coordinator")
    visit.open(f"/patrols/?month={month}")
    visit.shot("roster-empty")
    generate = visit.page.locator("form[action$='/patrols/generate']")
    assert generate.locator("input[name=month]").get_attribute("value") == month
    visit.follow(generate.locator("button[type=submit]"))
    assert visit.page.url.endswith(f"/patrols/?month={month}")
    visit.shot("roster-generated")
    assert visit.page.locator(".flash.success, .flash.warning").count() >= 1
    after = (next_month + timedelta(days=32)).replace(day=1)
    rostered = server.python(f"""
import datetime
import sqlalchemy as sa
from association.members.models import Member
from association.patrols.models import Assignment, Patroller
names = [m.full_name for m in db.session.scalars(sa.select(Member)
    .join(Patroller, Patroller.member_id == Member.id)
    .join(Assignment, Assignment.patroller_id == Patroller.id)
    .where(Assignment.night >= datetime.date.fromisoformat('{next_month}'),
           Assignment.night < datetime.date.fromisoformat('{after}'))
    .order_by(Assignment.night, Assignment.id))]
print(len(names))
print("\\n".join(names[:8]))
""").split("\n")
    assert int(rostered[0]) > 0
    roster_text = visit.page.locator("main table.roster").inner_text()
    for name in filter(None, rostered[1:]):
        assert name in roster_text

    # The patroller offers one of their shifts next month, in the browser.
    visit.switch_user("member")
    visit.open("/patrols/me")
    offers = visit.page.locator("main form[action*='/patrols/me/shifts/'][action$='/offer']")
    assert offers.count() > 0
    offer = offers.last
    assignment_id = int(re.search(r"/shifts/(\d+)/offer", offer.get_attribute("action")).group(1))
    offer.locator("input[name=note]").fill("Harusi ya dada yangu")
    visit.follow(offer.locator("button[type=submit]"))
    visit.shot("shift-offered")
    assert visit.page.locator(".flash.success").count() == 1
    cancel = "main form[action*='/patrols/me/offers/'][action$='/cancel']"
    assert visit.page.locator(cancel).count() >= 1

    # Another volunteer takes it; a rule (availability, rest, weekly limit) makes it wait.
    taker = server.python(f"""
import sqlalchemy as sa
from association.patrols.assignments import rule_problems
from association.patrols.models import Swap, SwapStatus
from association.patrols.patrollers import patrollers
from association.patrols.swaps import take_offer
swap = db.session.scalar(sa.select(Swap).where(Swap.assignment_id == {assignment_id},
                                               Swap.status == SwapStatus.OFFERED))
a = swap.assignment
for p in patrollers(active_only=True):
    problems = rule_problems(p, a.night, a.template)
    if p.id != swap.offered_by_id and problems.soft and not problems.hard:
        take_offer(p, swap)
        assert swap.status == SwapStatus.PENDING
        print(p.member.full_name)
        break
""").strip()
    assert taker

    visit.switch_user("coordinator")
    visit.open("/patrols/swaps")
    visit.shot("swap-waiting")
    pending = visit.page.locator("main ul.swaps li").filter(has_text=taker)
    assert pending.count() == 1
    pending.locator("select[name=decision]").select_option("approve")
    visit.follow(pending.locator("button[type=submit]"))
    visit.shot("swap-approved")
    assert visit.page.locator(".flash.success").count() == 1
    assert visit.page.locator("main ul.swaps form[action$='/decide']").count() == 0
    holder = server.python(f"""
from association.patrols.models import Assignment
print(db.session.get(Assignment, {assignment_id}).patroller.member.full_name)
""").strip()
    assert holder == taker

    # Attendance for the last night whose shifts have all ended (they end by 05:00).
    night = (now - timedelta(hours=30)).date()
    visit.open(f"/patrols/attendance/{night.isoformat()}")
    statuses = visit.page.locator("main select[name^='status-']")
    assert statuses.count() >= 2
    first, second = (statuses.nth(i).get_attribute("name").split("-")[1] for i in (0, 1))
    visit.page.select_option(f"#status-{first}", "excused")
    visit.page.fill(f"#note-{first}", "Mgonjwa / sick")
    visit.page.select_option(f"#status-{second}", "absent")
    visit.shot("attendance-form")
    visit.follow(visit.page.locator("main form button[type=submit]"))
    visit.shot("attendance-saved")
    assert visit.page.locator(".flash.success").count() == 1
    assert visit.page.locator(f"#status-{first}").input_value() == "excused"
    assert visit.page.locator(f"#note-{first}").input_value() == "Mgonjwa / sick"
    assert visit.page.locator(f"#status-{second}").input_value() == "absent"

    # An incident last night, handed to the police with its OB number.
    ob_number = f"OB 17/{night:%d/%m/%Y}"
    visit.open("/patrols/incidents/new")
    visit.page.fill("#occurred_at", f"{night.isoformat()}T22:40")
    zone = visit.page.locator("#zone_id option:not([value=''])").first.get_attribute("value")
    visit.page.select_option("#zone_id", zone)
    visit.page.fill("#place", "Near plot 42, by the water point")
    visit.page.select_option("#category", "mugging")
    visit.page.fill("#description", "A man was robbed of his phone; the patrol chased the "
                                    "attackers off and walked him home.")
    visit.page.check("input[name=actions][value=to_police]")
    visit.page.fill("#police_station", "Pangani Police Station")
    visit.page.fill("#ob_number", ob_number)
    visit.page.fill("#police_officer", "Cpl. Achieng")
    visit.shot("incident-form")
    visit.follow(visit.page.locator("main form button[type=submit]"))
    visit.shot("incident")
    assert re.search(r"/patrols/incidents/\d+$", visit.page.url), visit.page.url
    number = "INC-" + visit.page.url.rsplit("/", 1)[1]
    assert ob_number in visit.text() and number in visit.text()
    assert "Pangani Police Station" in visit.text()
    assert visit.page.locator(".flash.error").count() == 0
    visit.open("/patrols/incidents")
    visit.shot("incident-register")
    assert number in visit.text()


# --- The secretary's baraza, and a member reading its minutes ----------------------------


def call_meeting(visit, kind: str, title: str, held_on: date, agenda: str) -> int:
    visit.open("/meetings/new")
    visit.page.select_option("#type", kind)
    visit.page.fill("#title", title)
    visit.page.fill("#held_on", held_on.isoformat())
    visit.page.fill("#starts_at", "10:00")
    visit.page.fill("#venue", "Chief's camp grounds, Mlango Kubwa")
    visit.page.fill("#convener", "Wanjiru Kamau (chair)")
    visit.page.fill("#notice_on", (held_on - timedelta(days=14)).isoformat())
    visit.page.fill("#agenda", agenda)
    visit.follow(visit.page.locator("main form button[type=submit]"))
    found = re.search(r"/meetings/(\d+)$", visit.page.url)
    assert found, (visit.page.url, visit.text()[:1000])
    assert visit.page.locator(".flash.success").count() == 1
    return int(found.group(1))


def set_headcount(visit, meeting_id: int, headcount: int) -> None:
    visit.open(f"/meetings/{meeting_id}/attendance")
    form = visit.page.locator(f"form[action$='/meetings/{meeting_id}/headcount']")
    form.locator("input[name=headcount]").fill(str(headcount))
    visit.follow(form.locator("button[type=submit]"))
    assert visit.page.locator(".flash.success").count() == 1


def record_resolution(visit, meeting_id: int, kind: str, text: str, votes: tuple,
                      confirms: int | None = None) -> None:
    visit.open(f"/meetings/{meeting_id}/resolutions/new")
    visit.page.select_option("#kind", kind)
    visit.page.fill("#text", text)
    visit.page.fill("#proposer", "Halima Mohamed")
    visit.page.fill("#seconder", "Peter Kariuki")
    for name, count in zip(("votes_for", "votes_against", "votes_abstain"), votes, strict=True):
        visit.page.fill(f"#{name}", str(count))
    visit.page.select_option("#majority", "simple")
    if confirms is not None:
        visit.page.select_option("#confirms_meeting_id", str(confirms))
    visit.shot(f"resolution-{kind}")
    visit.follow(visit.page.locator("main form button[type=submit]"))
    assert visit.page.url.endswith(f"/meetings/{meeting_id}"), (visit.page.url, visit.text())
    assert visit.page.locator(".flash.success").count() == 1
    assert text in visit.text()


def test_secretary_records_a_baraza_publishes_its_minutes_and_a_member_reads_them(visit):
    """The secretary records a baraza (attendance by name and headcount, a resolution,
    the minutes), circulates the minutes, has them confirmed by the next committee
    meeting, publishes them, and a member reads them."""
    server = visit.base
    today = datetime.now(NAIROBI).date()
    visit.login("secretary")
    title = f"Baraza ya usalama, Mabatini ({visit.viewport}-{visit.language})"
    baraza = call_meeting(visit, "general", title, today - timedelta(days=7),
                          "Ripoti ya doria / Patrol report\nMichango / Dues collection")
    visit.shot("baraza")

    # Attendance: members found by number, marked present (one sends an apology).
    member_ids = []
    for n, status in ((2, "present"), (3, "present"), (4, "present"), (5, "apology")):
        visit.open(f"/meetings/{baraza}/attendance?q=MLK-{n:04d}")
        form = visit.page.locator(f"main form[action*='/meetings/{baraza}/attendance']").filter(
            has=visit.page.locator(f"input[name=status][value={status}]"))
        assert form.count() == 1, visit.text()[:1500]
        member_ids.append(form.locator("input[name=member_id]").get_attribute("value"))
        visit.follow(form.locator("button[type=submit]"))
        assert visit.page.locator(".flash.success").count() == 1, visit.text()[:1500]
    visit.shot("attendance")
    counted = server.python(f"""
import sqlalchemy as sa
from association.meetings.models import MeetingAttendance
rows = db.session.execute(sa.select(MeetingAttendance.member_id, MeetingAttendance.status)
    .where(MeetingAttendance.meeting_id == {baraza})).all()
print(sorted((str(m), s.value) for m, s in rows))
""").strip()
    assert counted == str(sorted(zip(member_ids, ["present"] * 3 + ["apology"], strict=True)))
    set_headcount(visit, baraza, 112)
    visit.shot("headcount")

    resolution = "Doria itaanza saa tatu usiku kutoka kambi ya chifu / Patrols start at 9 pm."
    record_resolution(visit, baraza, "general", resolution, (80, 10, 5))
    visit.shot("resolution-recorded")

    # The minutes, written per agenda item, then circulated to the committee.
    visit.open(f"/meetings/{baraza}/minutes/edit")
    discussions = visit.page.locator("main textarea[name^='discussion-']")
    assert discussions.count() >= 2  # and matters arising from earlier meetings
    decided = "Walinzi wawili zaidi Kosovo / Two more patrollers for Kosovo."
    discussions.first.fill("Matukio 12 mwezi huu / 12 incidents this month.")
    visit.page.locator("main textarea[name^='decisions-']").first.fill(decided)
    visit.page.locator("main select[name=language]").select_option(visit.language)
    visit.shot("minutes-form")
    visit.follow(visit.page.locator("main form button[type=submit]"))
    assert visit.page.url.endswith(f"/meetings/{baraza}")
    assert decided in visit.text()
    # Publishing before confirmation is refused: the lifecycle is enforced.
    assert visit.page.locator("form[action$='/minutes/publish']").count() == 0
    visit.follow(visit.page.locator(f"form[action$='/meetings/{baraza}/minutes/circulate'] button"))
    visit.shot("minutes-circulated")
    assert visit.page.locator(".flash.success").count() == 1
    assert visit.page.locator("main h1 .badge.circulated").count() == 1

    # The next committee meeting (quorate) confirms them; then they are published.
    committee = call_meeting(visit, "committee", f"Kamati ({visit.viewport}-{visit.language})",
                             today, "Kuthibitisha kumbukumbu / Confirming the minutes")
    set_headcount(visit, committee, 7)
    record_resolution(visit, committee, "confirm_minutes",
                      "Kumbukumbu za baraza zimethibitishwa / The baraza minutes are confirmed.",
                      (6, 0, 1), confirms=baraza)
    visit.open(f"/meetings/{baraza}")
    assert visit.page.locator("main h1 .badge.confirmed").count() == 1
    visit.follow(visit.page.locator(f"form[action$='/meetings/{baraza}/minutes/publish'] button"))
    visit.shot("minutes-published")
    assert visit.page.locator(".flash.success").count() >= 1  # and "confirmed at ..."
    assert visit.page.locator("main h1 .badge.published").count() == 1

    # A member finds them among the published minutes and reads them.
    visit.switch_user("member")
    visit.open("/minutes")
    visit.shot("minutes-list")
    visit.follow(visit.page.locator(f"main a[href$='/minutes/{baraza}']"))
    visit.shot("minutes-read")
    assert visit.page.url.endswith(f"/minutes/{baraza}")
    text = visit.text()
    assert title in text and resolution in text and decided in text and "112" in text
    # The committee's own minutes stay with the committee.
    assert visit.page.goto(f"{visit.base}/minutes/{committee}").status == 404


# --- A visitor reads the transparency page ------------------------------------------------


def test_visitor_reads_the_transparency_page_which_names_nobody(visit):
    """Anyone, without logging in, sees the month's money and patrol figures (adding up,
    and the same in the one-page PDF), and no member of the register is named."""
    visit.open("/login")
    visit.choose_language()  # a visitor may still choose the language
    response = visit.open("/transparency")
    assert response.status == 200 and "/login" not in visit.page.url
    visit.shot("transparency")
    months = visit.page.locator("main section.month-summary")
    assert months.count() >= 1
    collected_any = False
    for i in range(months.count()):
        month = months.nth(i)
        figures = month.locator("dl.record dd").all_inner_texts()
        collected, spent, paying = cents(figures[0]), cents(figures[1]), int(figures[2])
        assert collected >= 0 and spent >= 0 and paying >= 0
        collected_any = collected_any or (collected > 0 and paying > 0)
        # The month's charts by category (collected, spent), each with its figures' table.
        tables = month.locator("figure.chart table")
        sums = [sum(cents(t) for t in tables.nth(n).locator("td.num").all_text_contents())
                for n in range(tables.count())]
        if len(sums) == 2:
            assert sums == [collected, spent]
        for total in sums:
            assert total in (collected, spent)
    assert collected_any

    # The newest month's one-page PDF carries the same figures.
    newest = months.first
    href = newest.locator("a[href*='/transparency/'][href$='.pdf']:not([href$='/poster.pdf'])"
                          ).get_attribute("href")
    pdf = visit.fetch(href, "transparency.pdf")
    words = pdf_text(pdf)
    collected = newest.locator("dl.record dd").first.inner_text()
    assert " ".join(collected.split()) in words

    # Nobody on the register is named, on the page or in the PDF.
    names = visit.base.python("""
import sqlalchemy as sa
from association.members.models import Member
for member in db.session.scalars(sa.select(Member)):
    print(member.full_name)
""").splitlines()
    assert len(names) >= 100
    page_text = visit.page.locator("body").inner_text()
    assert not [n for n in names if n in page_text or n in words]
