"""A believable demo association: zones, about 300 members and one login per role."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from association.auth.models import Role, User
from association.auth.services import create_user
from association.core.phones import normalise_phone
from association.core.time import add_months, month_end, today_in_nairobi
from association.extensions import db
from association.ledger.balances import member_balance
from association.ledger.dues import (
    RateInput,
    add_rate_schedule,
    bill_month,
    decide_waiver,
    request_waiver,
)
from association.ledger.expenses import approve_expense, record_expense, reject_expense
from association.ledger.models import Account, PaymentMethod, Receipt
from association.ledger.payments import record_payment, void_receipt
from association.ledger.periods import close_month
from association.members.models import (
    Category,
    ConsentChannel,
    ConsentPurpose,
    Gender,
    MemberStatus,
)
from association.members.services import (
    MemberData,
    change_status,
    record_consent,
    register_members,
    save_zone,
)
from association.profile.models import MpesaKind, RegistrationBody
from association.profile.services import ProfileData, get_profile, save_profile
from devtools.demo.meetings import seed_meetings
from devtools.demo.mpesa import seed_mpesa
from devtools.demo.patrols import seed_patrols

DEMO_PASSWORD = "mtaani-demo"  # noqa: S105 - the demo logins are public by design
DEMO_USERS = (
    ("chair", "Wanjiru Kamau", Role.CHAIR),
    ("treasurer", "Otieno Ochieng", Role.TREASURER),
    ("secretary", "Akinyi Atieno", Role.SECRETARY),
    ("coordinator", "Mwangi Njoroge", Role.COORDINATOR),
    ("auditor", "Fatuma Hassan", Role.AUDITOR),
    ("member", "", Role.MEMBER),
)
#: Each demo login's phone number, to log in with instead of the username (as the login
#: page suggests). The member's is also the demo member's number in the register. None of
#: them is a register member's number (those are 07X 000 XXXX).
DEMO_PHONES = {
    "chair": "0722 410 217",
    "treasurer": "0733 518 402",
    "secretary": "0711 624 905",
    "coordinator": "0701 882 316",
    "auditor": "0790 245 631",
    "member": "0712 345 678",
}

ZONES = (
    ("Mabatini", "Along the river, from the bridge to the mosque"),
    ("Mashimoni", "Behind the market, up to the chief's camp"),
    ("Kiamutisya", "Upper lanes by the primary school"),
    ("Mlango Kubwa Stage", "Matatu stage and the shops on Juja Road"),
    ("Kosovo", "Lower lanes to the water point"),
)

WOMEN = ("Wanjiru", "Akinyi", "Njeri", "Atieno", "Mwikali", "Nafula", "Chebet", "Wambui",
         "Achieng", "Mumbua", "Halima", "Amina", "Grace", "Mercy", "Faith", "Esther",
         "Nyambura", "Wairimu", "Auma", "Kerubo", "Naliaka", "Zawadi", "Rehema", "Joy")
MEN = ("Kamau", "Otieno", "Mwangi", "Ochieng", "Kiprono", "Mutua", "Wafula", "Omondi",
       "Njoroge", "Kibet", "Hassan", "Abdi", "Brian", "Kevin", "Dennis", "Peter", "John",
       "Onyango", "Musyoka", "Barasa", "Juma", "Baraka", "Kariuki", "Odhiambo")
SURNAMES = ("Kamau", "Wanjiku", "Otieno", "Ochieng", "Mwangi", "Njoroge", "Mutua", "Wafula",
            "Omondi", "Kiprotich", "Hassan", "Mohamed", "Akinyi", "Atieno", "Muthoni",
            "Kariuki", "Onyango", "Musyoka", "Barasa", "Wekesa", "Nyambura", "Gitau",
            "Odhiambo", "Chege", "Maina", "Kimani", "Owino", "Were", "Mbugua", "Ndungu")


#: The demo host's administrator: sees both demo associations' health, never their members.
DEMO_HOST_ADMIN = "host"
DEMO_HOST_PASSWORD = "mtaani-demo-host"  # noqa: S105 - public by design; 12+ characters


@dataclass(frozen=True)
class DemoAssociation:
    """One demo association: its catalogue entry, profile, zones and logins."""

    short: str
    slug: str
    name: str
    registration_number: str
    sub_county: str
    ward: str
    estate: str
    contact_phone: str
    zones: tuple
    #: Login name → (full name, or "" for the demo member's; phone).
    people: dict
    members: int | None = None  # None: as many as asked for (seed-demo --members)


#: The two demo associations `make run` serves, to show one install hosting several and
#: each sealed off from the other. They share the sandbox paybill, each with its own
#: account-number prefix (its short name: members' numbers are MLK-0001, KBF-0001). The
#: treasurer and the auditor are the same people in both (a treasurer helping two groups,
#: an auditor auditing several): each has a login in each association.
DEMO_ASSOCIATIONS = (
    DemoAssociation(
        short="MLK", slug="mlk", name="Mlango Kubwa Landlords and Tenants Association",
        registration_number="DSD/NRB/MTH/2019/0457", sub_county="Mathare",
        ward="Mlango Kubwa", estate="Mabatini", contact_phone="0722 000 457", zones=ZONES,
        people={username: ("", DEMO_PHONES[username]) for username in DEMO_PHONES}),
    DemoAssociation(
        short="KBF", slug="kiambiu", name="Kiambiu Community Policing Forum",
        registration_number="DSD/NRB/KMK/2021/0133", sub_county="Kamukunji",
        ward="Eastleigh South", estate="Kiambiu", contact_phone="0722 000 133",
        zones=(("Kiambiu Stage", "The matatu stage and the footbridge"),
               ("Riverside", "Along the Ngong river, to the water point"),
               ("Bondeni", "The lower lanes behind the church")),
        people={"chair": ("Achieng Wekesa", "0722 133 501"),
                "treasurer": ("", DEMO_PHONES["treasurer"]),
                "secretary": ("Juma Barasa", "0711 133 502"),
                "coordinator": ("Baraka Kimani", "0701 133 503"),
                "auditor": ("", DEMO_PHONES["auditor"]),
                "member": ("", "0712 133 504")},
        members=40),
)


def demo_exists() -> bool:
    return get_profile() is not None


def _quiet(step: str) -> None:
    pass


def seed(members: int = 300, today: date | None = None, rng_seed: int = 2026,
         progress: Callable[[str], None] = _quiet,
         spec: DemoAssociation = DEMO_ASSOCIATIONS[0]) -> dict:
    """Fill an empty database with the demo association ``spec``; return what was made.

    Args:
        progress: called with the name of each step as it starts (``flask seed-demo``
            prints them: loading the demo takes a while).
    """
    today = today or today_in_nairobi()
    progress("the association and its zones")
    rng = random.Random(rng_seed)  # noqa: S311 - repeatable demo data, not secrets
    save_profile(
        ProfileData(
            name=spec.name,
            short_code=spec.short,
            registration_body=RegistrationBody.SOCIAL_DEVELOPMENT,
            registration_number=spec.registration_number,
            county="Nairobi",
            sub_county=spec.sub_county,
            ward=spec.ward,
            estate=spec.estate,
            contact_phone=spec.contact_phone,
            mpesa_kind=MpesaKind.PAYBILL,
            mpesa_number="174379",
            fiscal_year_start_month=1,
        )
    )
    zones = [save_zone(name, description) for name, description in spec.zones]
    progress(f"{members} members, their consents and changes of status")
    rows = [_member_row(i, zones, rng, today) for i in range(members)]
    made = register_members(rows)
    for member in made:
        record_consent(member, ConsentPurpose.REGISTER, ConsentChannel.PAPER,
                       member.joined_on, rng.choice(("en", "sw")), None, today=today)
        if rng.random() < 0.6:
            record_consent(member, ConsentPurpose.SMS, ConsentChannel.PAPER,
                           member.joined_on, rng.choice(("en", "sw")), None, today=today)
    for member in rng.sample(made, k=max(1, members // 25)):
        change_status(member, MemberStatus.LEFT, _after(member.joined_on, today, rng),
                      "Moved out of the area", None, today=today)
    for member in rng.sample([m for m in made if m.status == MemberStatus.ACTIVE],
                             k=max(1, members // 60)):
        change_status(member, MemberStatus.SUSPENDED, _after(member.joined_on, today, rng),
                      "Six months without contributing; asked to see the treasurer", None,
                      today=today)
    demo_member = next(m for m in made if m.status == MemberStatus.ACTIVE
                       and m.category == Category.RESIDENT and m.phone)
    progress("one login per role")
    demo_member.phone = normalise_phone(spec.people["member"][1])
    for username, name, role in DEMO_USERS:
        own_name, phone = spec.people[username]
        create_user(
            username,
            own_name or name or demo_member.full_name,
            DEMO_PASSWORD,
            {role},
            member_id=demo_member.id if role == Role.MEMBER else None,
            phone=phone,
            must_change_password=False,
        )
    db.session.flush()
    treasurer = next(u for u in db.session.scalars(sa.select(User)) if u.username == "treasurer")
    books = seed_books(made, today, rng, treasurer.id, progress)
    progress("M-Pesa transactions")
    mpesa = seed_mpesa(made, today, rng)
    progress("patrols: volunteers, rosters, attendance, incidents, stipends")
    patrols = seed_patrols(made, today, rng)
    progress("meetings: barazas, committee meetings, the AGM, minutes")
    meetings = seed_meetings(made, today, rng)
    return {"members": len(made), "zones": len(zones), "users": len(DEMO_USERS), **books,
            **mpesa, **patrols, **meetings}


#: The example schedule of the issue, in cents: residents 50; landlords by premises.
DEMO_RATES = (
    RateInput(Category.RESIDENT, 5_000),
    RateInput(Category.LANDLORD, 30_000, 1, 2),
    RateInput(Category.LANDLORD, 60_000, 3, 5),
    RateInput(Category.LANDLORD, 100_000, 6, 10),
    RateInput(Category.LANDLORD, 150_000, 11, None),
    RateInput(Category.BUSINESS, 20_000),
    RateInput(Category.OTHER, 5_000),
)


def seed_books(members, today: date, rng: random.Random, treasurer_id: int,
               progress: Callable[[str], None] = _quiet) -> dict:
    """A year of dues, payments (mostly M-Pesa), one voided receipt, closed months."""
    months = [add_months(today, -back) for back in range(11, -1, -1)]
    add_rate_schedule(months[0], list(DEMO_RATES),
                      f"AGM {months[0] - timedelta(days=20):%Y-%m-%d}, resolution 3", None)
    waiver_for = next(m for m in members if m.category == Category.LANDLORD)
    waiver = request_waiver(waiver_for, months[4], months[6], 0,
                            "Rental houses burnt in the fire; no rent for three months", None)
    decide_waiver(waiver, True, None)
    #: How each member pays: most every month or two, some quarterly, some late, a few never.
    habits = {m.id: rng.choices(("monthly", "quarterly", "late", "never"), (60, 20, 12, 8))[0]
              for m in members}
    codes: set[str] = set()
    payments = 0
    for index, month in enumerate(months):
        progress(f"books: dues and payments for {month:%b %Y}")
        bill_month(month)
        last_day = min(month_end(month), today)
        for member in members:
            habit = habits[member.id]
            owed = member_balance(member.id)
            if owed <= 0 or habit == "never":
                continue
            if habit == "quarterly" and index % 3 != 2:
                continue
            if habit == "late" and rng.random() > 0.25:
                continue
            if habit == "monthly" and rng.random() < 0.15:
                continue  # a missed month now and then
            amount = owed if rng.random() < 0.8 else owed + rng.choice((0, 5_000, 10_000))
            method = rng.choices(list(PaymentMethod), (20, 75, 5))[0]
            paid_on = month + timedelta(days=rng.randint(0, last_day.day - 1))
            reference = _mpesa_code(paid_on, rng, codes) if method == PaymentMethod.MPESA else (
                f"SLIP-{rng.randint(1000, 9999)}" if method == PaymentMethod.BANK else None)
            record_payment(member, amount, method, paid_on, treasurer_id, reference=reference,
                           issued_on=paid_on)
            payments += 1
    mistaken = db.session.scalar(sa.select(Receipt).order_by(Receipt.id.desc()).limit(1))
    void_receipt(mistaken, "Recorded against the wrong member", treasurer_id)
    progress("books: a year of expenses, closed months")
    expenses = seed_expenses(months, today, rng, treasurer_id)
    for month in months[:-2]:
        close_month(month, treasurer_id)
    return {"payments": payments, "months": len(months), "expenses": expenses}


def seed_expenses(months: list[date], today: date, rng: random.Random, treasurer_id: int) -> int:
    """A year of spending, recorded by the treasurer and approved by the chair: the night
    patrols' stipends (the patrol records keep the latest months), torches and jackets, tea
    at the barazas, M-Pesa charges, airtime for the police post; one claim rejected and one
    still waiting for approval."""
    chair_id = db.session.scalar(sa.select(User.id).where(User.username == "chair"))
    accounts = {a.key: a for a in db.session.scalars(sa.select(Account))}
    made = []

    def spend(key, payee, amount, method, day, description, decide="approve", reason=None):
        expense = record_expense(accounts[key], payee, amount, method, min(day, today),
                                 description, None, treasurer_id)
        if decide == "approve":
            approve_expense(expense, chair_id)
        elif decide == "reject":
            reject_expense(expense, chair_id, reason)
        made.append(expense)

    for index, month in enumerate(months):
        label = f"{month:%B %Y}"
        if index < len(months) - 2:
            nights = month_end(month).day
            spend("patrol_stipends", "Patrol volunteers (payout list signed)",
                  nights * 6 * 10_000, PaymentMethod.MPESA, month_end(month),
                  f"Stipends for {label}: {nights} nights, 6 patrollers a night, KES 100 each")
        spend("meeting_costs", "Mama Njeri's kiosk", rng.choice((1_200, 1_500, 1_800)) * 100,
              PaymentMethod.CASH, month + timedelta(days=rng.randint(5, 20)),
              f"Tea and mandazi for the {label} baraza")
        spend("transaction_charges", "Safaricom", rng.randint(180, 420) * 100,
              PaymentMethod.MPESA, month_end(month), f"M-Pesa charges for {label}")
        if index % 4 == 1:
            spend("patrol_equipment", "Gikomba hardware", 8_400_00, PaymentMethod.CASH,
                  month + timedelta(days=3), "12 rechargeable torches and 12 whistles")
        if index % 6 == 3:
            spend("patrol_equipment", "Eastleigh safety supplies", 9_000_00,
                  PaymentMethod.MPESA, month + timedelta(days=9),
                  "15 reflective jackets with the association's name")
        if index % 3 == 2:
            spend("police_support", "Pangani police station (community policing desk)",
                  1_000_00, PaymentMethod.MPESA, month + timedelta(days=12),
                  "Airtime for the community policing hotline")
    spend("patrol_equipment", "Gikomba hardware", 8_400_00, PaymentMethod.CASH,
          months[-3] + timedelta(days=4), "12 rechargeable torches and 12 whistles",
          decide="reject", reason="Already paid on the earlier claim: the same receipt")
    spend("meeting_costs", "St. Teresa's hall", 2_500_00, PaymentMethod.CASH,
          today, "Hall hire for the annual general meeting", decide=None)
    return len(made)


def _mpesa_code(day: date, rng: random.Random, used: set[str]) -> str:
    """An M-Pesa-like receipt code: a year letter, a month letter, then 8 letters or digits."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    while True:
        code = "TSUVWX"[(day.year - 2025) % 6] + "ABCDEFGHJKLM"[day.month - 1] + "".join(
            rng.choice(alphabet) for _ in range(8))
        if code not in used:
            used.add(code)
            return code


def _after(start: date, today: date, rng: random.Random) -> date:
    span = max((today - start).days, 0)
    return start + timedelta(days=rng.randint(span // 2, span)) if span else start


def _member_row(i: int, zones, rng: random.Random, today: date) -> MemberData:
    female = rng.random() < 0.52
    first = rng.choice(WOMEN if female else MEN)
    surname = rng.choice(SURNAMES)
    roll = rng.random()
    if roll < 0.72:
        category, premises = Category.RESIDENT, None
    elif roll < 0.90:
        category, premises = Category.LANDLORD, rng.choice((1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 15))
    elif roll < 0.98:
        category, premises = Category.BUSINESS, None
    else:
        category, premises = Category.OTHER, None
    joined = today - timedelta(days=rng.randint(30, 6 * 365))
    prefix = rng.choice(("70", "71", "72", "79", "11"))
    return MemberData(
        first_name=first,
        other_names=surname if rng.random() < 0.7 else f"{rng.choice(SURNAMES)} {surname}",
        phone=f"0{prefix}{i:07d}"[:10] if rng.random() < 0.93 else None,
        national_id=str(20000000 + i * 37) if rng.random() < 0.6 else None,
        gender=Gender.FEMALE if female else Gender.MALE,
        year_of_birth=today.year - rng.randint(19, 70),
        category=category,
        rental_premises=premises,
        zone_id=rng.choice(zones).id,
        plot=f"Plot {rng.randint(1, 120)}" if category != Category.BUSINESS else None,
        house=f"H{rng.randint(1, 40)}" if category == Category.RESIDENT else None,
        joined_on=joined,
        notes=None,
    )

