"""Scale data for benchmarks: a believable association with many members, fast.

``generate_members()`` fills an empty, already-migrated database in one app
context; the caller commits. ``generate_ledger()`` builds on it: members, then
years of dues, payments and receipts, consistent with what the ledger services
would have written (checked by ``verify_ledger()``).

Audit trail: the rows are written with ORM *bulk* INSERTs
(``db.session.execute(sa.insert(Model), list_of_dicts)``). Those are executed
directly, not through the unit of work, so the ``before_flush``/``after_flush``
hooks in ``association.audit.services`` never see them and no audit events are
written for bench data. That is acceptable for a throwaway benchmark database
(and it is what makes 20,000 members take seconds, not minutes); never use
this module on a real register. Anything the caller adds with the ORM in the
same session *is* flushed and audited as usual. The books of ``generate_ledger()``
are written with Core INSERTs the same way, and are not audited either.
"""

import random
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import phonenumbers
import sqlalchemy as sa

from association.core.time import month_end  # noqa: E402
from association.extensions import db
from association.ledger import accounts, dues, journal, settings, trial_balance
from association.ledger.models import (
    Allocation,
    DuesCharge,
    EntrySource,
    JournalEntry,
    Payment,
    PaymentMethod,
    Posting,
    Receipt,
    ReceiptCounter,
    Side,
)
from association.members.models import (
    Category,
    Gender,
    Member,
    MemberStatus,
    MemberStatusChange,
    Zone,
)
from association.members.services import format_member_no
from association.profile.models import AssociationProfile, MpesaKind, RegistrationBody

DEFAULT_SEED = 2026
BATCH_SIZE = 5000

PROFILE = dict(
    name="Mathare North Residents and Landlords Welfare Association",
    short_code="MNR",
    registration_body=RegistrationBody.SOCIAL_DEVELOPMENT,
    registration_number="DSD/NRB/KSR/2016/1184",
    county="Nairobi",
    sub_county="Kasarani",
    ward="Mathare North",
    estate="Mathare North",
    contact_phone="+254722118400",
    mpesa_kind=MpesaKind.PAYBILL,
    mpesa_number="522533",
    fiscal_year_start_month=7,
)

ZONES = (
    ("Area 1", "From the Outering Road gate to the first water point"),
    ("Area 2", "Lanes behind the Lucky Summer matatu stage"),
    ("Area 3", "Around the primary school and the chief's camp"),
    ("Area 4", "Market lanes down to the footbridge"),
    ("Mabatini", "Iron-sheet plots along the river"),
    ("Mashimoni", "Behind the market, up to the mosque"),
    ("Kiamutisya", "Upper lanes by the church"),
    ("Kosovo", "Lower lanes to the water kiosk"),
    ("Gitathuru", "Plots along Gitathuru river"),
    ("Bondeni", "The valley below the stage"),
    ("Village 2", "Between the dispensary and the social hall"),
    ("Kiandururu", "Towards the quarry"),
)

#: (weight, women's names, men's names, surnames): names are drawn within one community.
COMMUNITIES = (
    (22, ("Wanjiru", "Wanjiku", "Njeri", "Wambui", "Nyambura", "Wairimu", "Muthoni", "Wangari",
          "Njoki", "Waithera", "Wacera", "Nyokabi"),
     ("Kamau", "Mwangi", "Njoroge", "Kariuki", "Kimani", "Maina", "Gitau", "Mbugua", "Ndungu",
      "Muriuki", "Waweru", "Kinyua"),
     ("Kamau", "Mwangi", "Njoroge", "Kariuki", "Kimani", "Maina", "Gitau", "Mbugua", "Ndungu",
      "Chege", "Karanja", "Githinji", "Macharia", "Kinyua", "Waweru", "Njuguna", "Gachanja",
      "Wachira", "Mureithi", "Kahiga")),
    (16, ("Akinyi", "Atieno", "Achieng", "Awino", "Adhiambo", "Anyango", "Auma", "Akoth",
          "Apiyo", "Aoko"),
     ("Otieno", "Ochieng", "Omondi", "Odhiambo", "Onyango", "Owino", "Ouma", "Okoth", "Oduor",
      "Opiyo"),
     ("Otieno", "Ochieng", "Omondi", "Odhiambo", "Onyango", "Owino", "Ouma", "Okoth", "Oduor",
      "Opiyo", "Okello", "Ogola", "Obuya", "Oloo", "Odero", "Onyango", "Juma")),
    (15, ("Nafula", "Naliaka", "Nekesa", "Nasimiyu", "Nanjala", "Khavere", "Ayuma", "Mideva"),
     ("Wafula", "Wekesa", "Barasa", "Simiyu", "Wanyama", "Wanjala", "Masinde", "Makokha"),
     ("Wafula", "Wekesa", "Barasa", "Simiyu", "Wanyama", "Wanjala", "Masinde", "Makokha",
      "Shikuku", "Khaemba", "Wamalwa", "Mukhwana", "Lusweti", "Namasaka")),
    (12, ("Mwikali", "Mumbua", "Ndinda", "Kanini", "Mwende", "Nduku", "Syokau", "Mutheu"),
     ("Mutua", "Musyoka", "Mwendwa", "Kioko", "Mutiso", "Muli", "Nzioka", "Kilonzo"),
     ("Mutua", "Musyoka", "Mwendwa", "Kioko", "Mutiso", "Muli", "Nzioka", "Kilonzo", "Mbithi",
      "Munyao", "Kyalo", "Wambua")),
    (10, ("Chebet", "Chepkoech", "Jepkosgei", "Cherono", "Jeruto", "Chepngetich", "Jelagat"),
     ("Kiprono", "Kibet", "Kipchoge", "Cheruiyot", "Kiprotich", "Kiplagat", "Kipkemboi"),
     ("Kiprotich", "Kibet", "Rotich", "Cheruiyot", "Korir", "Kirui", "Langat", "Koech",
      "Kiplagat", "Ruto", "Too", "Kosgei")),
    (9, ("Kerubo", "Moraa", "Kwamboka", "Nyaboke", "Kemunto", "Bosibori", "Nyanchama"),
     ("Nyamweya", "Ondieki", "Mogaka", "Nyakundi", "Momanyi", "Ombati", "Onchiri"),
     ("Nyamweya", "Ondieki", "Mogaka", "Nyakundi", "Momanyi", "Ombati", "Onchiri", "Mokaya",
      "Nyang'au", "Omwenga")),
    (6, ("Makena", "Kendi", "Kagendo", "Nkatha", "Gatwiri", "Mukami"),
     ("Mugambi", "Kirimi", "Murithi", "Mwiti", "Gitonga", "Njue", "Kaburu"),
     ("Mugambi", "Kirimi", "Murithi", "Mwiti", "Gitonga", "Njue", "Kaburu", "Kinoti", "Mutembei")),
    (6, ("Halima", "Amina", "Fatuma", "Zainab", "Mwanaisha", "Hawa", "Khadija", "Sahra"),
     ("Hassan", "Abdi", "Mohamed", "Ali", "Omar", "Salim", "Abdullahi", "Yusuf", "Ibrahim"),
     ("Hassan", "Mohamed", "Abdi", "Ali", "Omar", "Ahmed", "Abdullahi", "Yusuf", "Farah",
      "Noor", "Ismail", "Said")),
    (3, ("Kadzo", "Sidi", "Dama", "Kahindi", "Mapenzi"),
     ("Kazungu", "Karisa", "Charo", "Baya", "Katana", "Mwadime"),
     ("Kazungu", "Karisa", "Charo", "Baya", "Katana", "Mwadime", "Kenga", "Ngala")),
    (1, ("Nashipae", "Naserian", "Nalangu"),
     ("Lemayian", "Sankale", "Saitoti"),
     ("Ole Sankale", "Lemayian", "Saitoti", "Ole Nkaiserry", "Parsimei")),
)

#: Christian and other common given names, used across every community.
SHARED_WOMEN = ("Grace", "Mercy", "Faith", "Esther", "Mary", "Jane", "Lucy", "Ann",
                "Caroline", "Beatrice", "Purity", "Joyce", "Winnie", "Sharon", "Diana",
                "Cynthia", "Everlyne", "Lilian", "Eunice", "Sarah", "Rehema", "Zawadi", "Neema",
                "Tabitha", "Rose", "Margaret", "Nancy", "Gladys")
SHARED_MEN = ("Brian", "Kevin", "Dennis", "Peter", "John", "James", "Joseph", "David",
              "Daniel", "Samuel", "Stephen", "Paul", "Michael", "George", "Collins", "Victor",
              "Emmanuel", "Patrick", "Francis", "Anthony", "Geoffrey", "Charles", "Baraka",
              "Felix", "Moses", "Eric", "Isaac", "Timothy")

#: Mobile prefixes (after the leading 0) by rough market share: Safaricom, Airtel, Telkom.
MOBILE_PREFIXES = (
    (46, [f"7{d:02d}" for d in range(0, 30)] + ["740", "741", "742", "743", "745", "746",
                                                 "748", "757", "758", "759", "768", "769"]
     + [f"79{d}" for d in range(10)]),
    (12, [f"11{d}" for d in range(0, 6)]),
    (30, [f"73{d}" for d in range(10)] + [f"75{d}" for d in range(0, 7)] + ["762"]
     + [f"78{d}" for d in range(10)]),
    (8, ["100", "101", "102"]),
    (4, [f"77{d}" for d in range(10)]),
)

# About 72% residents, 18% landlords, 8% businesses, 2% other (as the issue describes).
CATEGORY_WEIGHTS = ((Category.RESIDENT, 72), (Category.LANDLORD, 18),
                    (Category.BUSINESS, 8), (Category.OTHER, 2))
PREMISES = (1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 10, 12, 15)
# Mostly active; some suspended for arrears, some left the area.
STATUS_WEIGHTS = ((MemberStatus.ACTIVE, 90), (MemberStatus.SUSPENDED, 3), (MemberStatus.LEFT, 7))
STATUS_REASONS = {
    MemberStatus.SUSPENDED: ("Six months without contributing; asked to see the treasurer",
                             "Suspended by the committee pending a hearing"),
    MemberStatus.LEFT: ("Moved out of the area", "Moved upcountry", "Sold the plot",
                        "Business closed"),
}
NATIONAL_ID_SHARE = 0.6
YEARS_OF_MEMBERSHIP = 8


@dataclass
class GeneratedMembers:
    """What :func:`generate_members` wrote (ids are the database's)."""

    short_code: str
    zone_ids: list[int]
    members: int
    status_changes: int
    by_category: dict = field(default_factory=dict)
    by_status: dict = field(default_factory=dict)


def bulk_insert(model, rows: list[dict], batch_size: int = BATCH_SIZE) -> None:
    """Insert ``rows`` into ``model``'s table in batches, bypassing the unit of work.

    Not audited: see the module docstring.
    """
    for start in range(0, len(rows), batch_size):
        db.session.execute(sa.insert(model), rows[start:start + batch_size])


def generate_members(
    n: int = 20000,
    zones: int = 10,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    batch_size: int = BATCH_SIZE,
) -> GeneratedMembers:
    """Fill an empty, migrated database with a profile, ``zones`` zones and ``n`` members.

    Every member gets a unique valid Kenyan mobile number, about 60% a unique
    national ID, and a status-history row for joining (plus one for the change
    when they are now suspended or left). The same seed gives the same data.

    Args:
        n: how many members.
        zones: how many zones (names repeat with a number beyond the built-in list).
        seed: the random seed.
        today: the generation date (defaults to today); join dates fall before it.
        batch_size: rows per INSERT batch.

    Returns:
        A summary of what was written; the caller commits.

    Raises:
        RuntimeError: when the database already has a profile, zones or members.
    """
    if n < 1 or zones < 1:
        raise ValueError("n and zones must be at least 1")
    for model in (AssociationProfile, Zone, Member):
        if db.session.scalar(sa.select(sa.func.count()).select_from(model)):
            raise RuntimeError(f"generate_members needs an empty database; {model.__tablename__} "
                               "already has rows")
    rng = random.Random(seed)
    today = today or date.today()
    now = datetime.combine(today, time(9, 0))

    bulk_insert(AssociationProfile, [dict(PROFILE, created_at=now)])
    short_code = PROFILE["short_code"]
    bulk_insert(Zone, [
        {"name": name, "description": description, "created_at": now}
        for name, description in _zone_names(zones)
    ])
    zone_ids = list(db.session.scalars(sa.select(Zone.id).order_by(Zone.id)))

    phones = _phone_numbers(n, rng)
    national_ids = iter(rng.sample(range(10_000_000, 40_000_000), k=n))
    members, changes = [], []
    by_category = dict.fromkeys(Category, 0)
    by_status = dict.fromkeys(MemberStatus, 0)
    community_weights = [c[0] for c in COMMUNITIES]
    for seq in range(1, n + 1):
        member, change = _member_row(
            seq, short_code, rng, today, zone_ids, phones[seq - 1], national_ids,
            rng.choices(COMMUNITIES, weights=community_weights)[0],
        )
        members.append(member)
        if change is not None:
            changes.append(change)
        by_category[member["category"]] += 1
        by_status[member["status"]] += 1
    bulk_insert(Member, members, batch_size)

    # Members were numbered 1..n in an empty table; read their ids back by number.
    id_by_seq = dict(db.session.execute(sa.select(Member.seq, Member.id)).all())
    history = [
        {"member_id": id_by_seq[m["seq"]], "status": MemberStatus.ACTIVE,
         "effective_on": m["joined_on"], "reason": None, "recorded_by_id": None,
         "recorded_at": m["created_at"]}
        for m in members
    ]
    for change in changes:
        seq = change.pop("seq")
        history.append({**change, "member_id": id_by_seq[seq]})
    bulk_insert(MemberStatusChange, history, batch_size)
    return GeneratedMembers(
        short_code=short_code,
        zone_ids=zone_ids,
        members=n,
        status_changes=len(history),
        by_category={k.value: v for k, v in by_category.items()},
        by_status={k.value: v for k, v in by_status.items()},
    )


def _zone_names(count: int) -> list[tuple[str, str]]:
    names = []
    for i in range(count):
        name, description = ZONES[i % len(ZONES)]
        if i >= len(ZONES):
            name = f"{name} {i // len(ZONES) + 1}"
        names.append((name, description))
    return names


def _phone_numbers(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct valid Kenyan mobile numbers in E.164 (+2547..., +2541...)."""
    weights = [w for w, _ in MOBILE_PREFIXES]
    seen: set[str] = set()
    numbers = []
    while len(numbers) < n:
        prefixes = rng.choices(MOBILE_PREFIXES, weights=weights)[0][1]
        national = f"{rng.choice(prefixes)}{rng.randrange(1_000_000):06d}"
        if national in seen:
            continue
        parsed = phonenumbers.PhoneNumber(country_code=254, national_number=int(national))
        if not phonenumbers.is_valid_number(parsed):
            continue  # a prefix list slip must not produce a number the app would refuse
        seen.add(national)
        numbers.append(f"+254{national}")
    return numbers


def _member_row(seq, short_code, rng, today, zone_ids, phone, national_ids, community):
    """One member as a dict of column values, and its status change (or None)."""
    _weight, women, men, surnames = community
    female = rng.random() < 0.52
    given = women if female else men
    shared = SHARED_WOMEN if female else SHARED_MEN
    surname = rng.choice(surnames)
    if rng.random() < 0.45:
        # "Mary Wanjiru Kamau": a Christian name, then the vernacular name and the surname.
        first_name = rng.choice(shared)
        other_names = f"{rng.choice(given)} {surname}" if rng.random() < 0.6 else surname
    else:
        first_name = rng.choice(given)
        other_names = surname if rng.random() < 0.75 else f"{rng.choice(given)} {surname}"
    if first_name == other_names:
        other_names = f"{rng.choice(surnames)} {surname}"

    category = rng.choices([c for c, _ in CATEGORY_WEIGHTS], [w for _, w in CATEGORY_WEIGHTS])[0]
    joined_on = today - timedelta(days=rng.randint(14, YEARS_OF_MEMBERSHIP * 365))
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
    status_since = joined_on
    change = None
    if status != MemberStatus.ACTIVE:
        span = (today - joined_on).days
        status_since = joined_on + timedelta(days=rng.randint(span // 3, span))
        change = {
            "seq": seq, "status": status, "effective_on": status_since,
            "reason": rng.choice(STATUS_REASONS[status]), "recorded_by_id": None,
            "recorded_at": datetime.combine(status_since, time(18, 0)),
        }
    year_of_birth = today.year - rng.randint(19, 78)
    created_at = datetime.combine(joined_on, time(10, 0)) + timedelta(minutes=rng.randint(0, 480))
    row = {
        "seq": seq,
        "member_no": format_member_no(short_code, seq),
        "first_name": first_name,
        "other_names": other_names,
        "phone": phone,
        "national_id": str(next(national_ids)) if rng.random() < NATIONAL_ID_SHARE else None,
        "gender": Gender.FEMALE if female else Gender.MALE,
        "year_of_birth": year_of_birth if rng.random() < 0.85 else None,
        "category": category,
        "rental_premises": rng.choice(PREMISES) if category == Category.LANDLORD else None,
        "zone_id": rng.choice(zone_ids),
        "plot": f"Plot {rng.randint(1, 400)}" if rng.random() < 0.8 else None,
        "house": f"H{rng.randint(1, 60)}" if category == Category.RESIDENT else None,
        "joined_on": joined_on,
        "status": status,
        "status_since": status_since,
        "notes": None,
        "created_at": created_at,
        "updated_at": created_at,
    }
    return row, change


# --- Years of books ---------------------------------------------------------------------

#: The issue's example schedule, in cents: residents 50; landlords by rental premises.
LEDGER_RATES = (
    (Category.RESIDENT, 5_000, 0, None),
    (Category.LANDLORD, 30_000, 1, 2),
    (Category.LANDLORD, 60_000, 3, 5),
    (Category.LANDLORD, 100_000, 6, 10),
    (Category.LANDLORD, 150_000, 11, None),
    (Category.BUSINESS, 20_000, 0, None),
    (Category.OTHER, 5_000, 0, None),
)
#: How members pay. "monthly": the month's dues (and any arrears) most months;
#: "bimonthly": every second month; "quarterly": three months at a time, in advance;
#: "late": now and then, often part of what they owe; "never": nothing.
HABIT_WEIGHTS = (("monthly", 60), ("bimonthly", 15), ("quarterly", 10), ("late", 9),
                 ("never", 6))
#: Suspended members are mostly the ones who stopped paying.
SUSPENDED_HABIT_WEIGHTS = (("late", 50), ("never", 50))
#: Payment methods by member category: M-Pesa mostly; landlords and businesses use the bank.
METHOD_WEIGHTS = {
    Category.RESIDENT: (("mpesa", 84), ("cash", 16), ("bank", 0)),
    Category.OTHER: (("mpesa", 84), ("cash", 16), ("bank", 0)),
    Category.LANDLORD: (("mpesa", 72), ("cash", 12), ("bank", 16)),
    Category.BUSINESS: (("mpesa", 76), ("cash", 12), ("bank", 12)),
}
#: M-Pesa codes: a year letter, a month letter, then 8 of these (no I or O).
MPESA_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_MPESA_SPACE = len(MPESA_ALPHABET) ** 8
#: Odd and not a multiple of 17, so n -> n * A + B (mod 34^8) gives every n its own code.
_MPESA_A, _MPESA_B = 1_103_515_245_331, 738_291_004_117


@dataclass
class LedgerCheck:
    """One consistency check of the generated books."""

    name: str
    ok: bool
    detail: str


@dataclass
class GeneratedLedger:
    """What :func:`generate_ledger` wrote."""

    members: GeneratedMembers
    first_month: date
    last_month: date
    months: int
    entries: int = 0
    postings: int = 0
    charges: int = 0
    payments: int = 0
    allocations: int = 0
    receipts: int = 0
    receipts_by_year: dict = field(default_factory=dict)
    payments_by_method: dict = field(default_factory=dict)
    habits: dict = field(default_factory=dict)
    charged_cents: int = 0
    paid_cents: int = 0
    open_cents: int = 0
    credit_cents: int = 0
    #: The member with the longest history (for a member statement).
    busiest_member_id: int | None = None
    checks: list[LedgerCheck] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(check.ok for check in self.checks)


class _Ids:
    """The next primary key of each table (the generator assigns them itself)."""

    def __init__(self, *models):
        self._next = {
            m: (db.session.scalar(sa.select(sa.func.max(m.id))) or 0) + 1 for m in models
        }

    def take(self, model) -> int:
        value = self._next[model]
        self._next[model] = value + 1
        return value


def _month_add(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _mpesa_code(n: int, day: date) -> str:
    """The ``n``-th generated M-Pesa code: unique for every n, without a set of used ones."""
    x = (n * _MPESA_A + _MPESA_B) % _MPESA_SPACE
    chars = []
    for _ in range(8):
        x, r = divmod(x, len(MPESA_ALPHABET))
        chars.append(MPESA_ALPHABET[r])
    return (chr(ord("A") + (day.year - 2006) % 26) + "ABCDEFGHJKLM"[day.month - 1]
            + "".join(chars))


def generate_ledger(
    months: int = 60,
    seed: int = DEFAULT_SEED,
    members: int = 20000,
    zones: int = 10,
    today: date | None = None,
    batch_size: int = BATCH_SIZE,
    progress=None,
    verify: bool = True,
) -> GeneratedLedger:
    """Fill an empty, migrated database with members and ``months`` months of books.

    On top of :func:`generate_members`: the default chart, the issue's rate schedule
    (through the services), then for each month up to the end of last month the
    dues run (one entry, dated the month's end, like ``bill_month``), the member
    credit applied to it (like ``apply_credits``) and the month's payments (like
    ``record_payment``: oldest unpaid month first, the rest kept as credit, a
    receipt numbered {SHORT}-{YYYY}-{NNNNNN} without gaps per year), with their
    journal entries, postings, dues charges (with the right ``open_cents``),
    allocations and receipts.

    The books are written with Core bulk INSERTs in batches, with primary keys the
    generator assigns itself: going through the services one payment at a time
    would take hours at this size. **No audit events are written for the generated
    books** (nor for the members, see the module docstring); only the chart and the
    rate schedule, which go through the services, are audited. Never run this on a
    real register.

    Args:
        months: how many months of books, ending with last month.
        seed: the random seed (the members use it as given, the books ``seed + 1``).
        members, zones, today, batch_size: as for :func:`generate_members`.
        progress: called with a line of text now and then (e.g. ``print``).
        verify: check the books afterwards (see :func:`verify_ledger`).

    Returns:
        A summary, with the consistency checks; the caller commits.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    say = progress or (lambda _text: None)
    today = today or date.today()
    made = generate_members(members, zones=zones, seed=seed, today=today,
                            batch_size=batch_size)
    rng = random.Random(seed + 1)
    last_month = _month_add(today.replace(day=1), -1)
    first_month = _month_add(last_month, -(months - 1))
    month_list = [_month_add(first_month, i) for i in range(months)]
    result = GeneratedLedger(made, first_month, last_month, months)

    accounts.ensure_chart()
    settings.settings()
    dues.add_rate_schedule(
        first_month,
        [dues.RateInput(c, amount, low, high) for c, amount, low, high in LEDGER_RATES],
        f"AGM {first_month - timedelta(days=20):%Y-%m-%d}, resolution 3", None,
    )
    db.session.flush()
    schedule = dues.schedule_for(first_month)
    receivable = accounts.account("dues_receivable").id
    credit_account = accounts.account("member_credit").id
    income = {c: accounts.account(k).id for c, k in accounts.DUES_INCOME_KEY.items()}
    method_account = {m: accounts.account(k).id for m, k in accounts.METHOD_ACCOUNT_KEY.items()}

    # The members, in the order bill_month reads them, with their dated status history.
    roster = db.session.execute(
        sa.select(Member.id, Member.member_no, Member.category, Member.rental_premises,
                  Member.joined_on).order_by(Member.seq)
    ).all()
    history: dict[int, list] = {}
    for member_id, effective_on, status in db.session.execute(
        sa.select(MemberStatusChange.member_id, MemberStatusChange.effective_on,
                  MemberStatusChange.status)
        .order_by(MemberStatusChange.member_id, MemberStatusChange.effective_on,
                  MemberStatusChange.id)
    ):
        history.setdefault(member_id, []).append((effective_on, status))

    people = []
    habit_counts: dict[str, int] = {}
    for member_id, member_no, category, premises, joined_on in roster:
        rate = dues.rate_for(category, premises, schedule)
        changes = history.get(member_id, [])
        stopped = next((day for day, status in changes if status != MemberStatus.ACTIVE), None)
        weights = SUSPENDED_HABIT_WEIGHTS if any(
            s == MemberStatus.SUSPENDED for _, s in changes) else HABIT_WEIGHTS
        habit = rng.choices([h for h, _ in weights], [w for _, w in weights])[0]
        habit_counts[habit] = habit_counts.get(habit, 0) + 1
        methods = METHOD_WEIGHTS[category]
        people.append(_Person(
            id=member_id, member_no=member_no, category=category, joined_on=joined_on,
            changes=changes, stopped=stopped, rate_id=rate.id if rate else None,
            rate=rate.amount_cents if rate else 0, habit=habit, offset=rng.randrange(3),
            methods=([PaymentMethod(m) for m, _ in methods], [w for _, w in methods]),
        ))
    result.habits = habit_counts

    ids = _Ids(JournalEntry, Posting, DuesCharge, Payment, Allocation, Receipt)
    # Charges and allocations are written at the end, once every charge's open_cents is
    # known; meanwhile they live in compact arrays (a few bytes a row).
    first_charge_id = ids.take(DuesCharge)
    ch_member, ch_month, ch_amount, ch_rate, ch_open = (
        array("q"), array("h"), array("q"), array("q"), array("q"))
    #: charge index, payment id (0: credit applied), entry id, cents: four per allocation.
    allocations = array("q")
    dues_entry_of_month: list[int] = []
    receipt_seq: dict[int, int] = {}
    mpesa_n = 0
    by_method = dict.fromkeys((m.value for m in PaymentMethod), 0)
    short_code = made.short_code
    started = datetime.now()

    for index, month in enumerate(month_list):
        end = month_end(month)
        run_at = datetime.combine(month, time(5, 0)) + timedelta(
            days=rng.randint(0, 2), minutes=rng.randint(0, 240))
        entries, postings, payments, receipts = [], [], [], []

        # 1. The dues run: one entry dated the month's end, its lines merged like
        #    post_entry's (one receivable line per member, one income line per category).
        charged = [p for p in people if p.rate and p.joined_on <= end
                   and p.status_at(end) == MemberStatus.ACTIVE]
        dues_entry = None
        if charged:  # nobody to charge: no entry, as with bill_month
            dues_entry = ids.take(JournalEntry)
            entries.append({"id": dues_entry, "entry_date": end,
                            "memo": f"Dues for {month:%Y-%m}", "source": EntrySource.DUES_RUN,
                            "reference": f"DUES-{month:%Y-%m}", "posted_by_id": None,
                            "posted_at": run_at, "reverses_id": None})
        dues_entry_of_month.append(dues_entry)
        income_lines: dict[int, dict] = {}
        for person in charged:
            ch_member.append(person.id)
            ch_month.append(index)
            ch_amount.append(person.rate)
            ch_rate.append(person.rate_id)
            ch_open.append(person.rate)
            person.open.append(len(ch_member) - 1)
            person.charges += 1
            postings.append({"id": ids.take(Posting), "entry_id": dues_entry,
                             "account_id": receivable, "member_id": person.id,
                             "side": Side.DEBIT, "amount_cents": person.rate})
            line = income_lines.get(income[person.category])
            if line is None:
                line = income_lines[income[person.category]] = {
                    "id": ids.take(Posting), "entry_id": dues_entry,
                    "account_id": income[person.category], "member_id": None,
                    "side": Side.CREDIT, "amount_cents": 0}
                postings.append(line)
            line["amount_cents"] += person.rate
            result.charged_cents += person.rate

        # 2. Member credit applied to the charges, oldest first (bill_month -> apply_credits,
        #    for the members just charged). Each of them now has an open charge, so every
        #    member with credit uses some of it.
        with_credit = sorted((p for p in charged if p.credit > 0), key=lambda p: p.id)
        if with_credit:
            credit_entry = ids.take(JournalEntry)
            entries.append({"id": credit_entry, "entry_date": end,
                            "memo": "Member credit applied to dues",
                            "source": EntrySource.CREDIT_APPLIED, "reference": None,
                            "posted_by_id": None, "posted_at": run_at + timedelta(seconds=5),
                            "reverses_id": None})
            for person in with_credit:
                used = person.settle(person.credit, ch_open, allocations, 0, credit_entry)
                person.credit -= used
                postings.append({"id": ids.take(Posting), "entry_id": credit_entry,
                                 "account_id": credit_account, "member_id": person.id,
                                 "side": Side.DEBIT, "amount_cents": used})
                postings.append({"id": ids.take(Posting), "entry_id": credit_entry,
                                 "account_id": receivable, "member_id": person.id,
                                 "side": Side.CREDIT, "amount_cents": used})

        # 3. The month's payments, recorded in date order (receipt numbers follow it).
        planned = []
        for person in people:
            plan = person.payment(index, month, end, rng, ch_open)
            if plan is not None:
                planned.append((plan[0], rng.random(), person, plan[1]))
        planned.sort(key=lambda p: (p[0], p[1]))
        for paid_on, _tie, person, amount in planned:
            method = rng.choices(*person.methods)[0]
            mpesa_code = reference = None
            if method == PaymentMethod.MPESA:
                mpesa_code = _mpesa_code(mpesa_n, paid_on)
                mpesa_n += 1
            elif method == PaymentMethod.BANK:
                reference = f"SLIP-{rng.randint(100000, 999999)}"
            entry_id, payment_id = ids.take(JournalEntry), ids.take(Payment)
            settled = person.settle(amount, ch_open, allocations, payment_id, entry_id)
            person.credit += amount - settled
            posted_at = datetime.combine(paid_on, time(5, 0)) + timedelta(
                minutes=rng.randint(0, 720))
            entries.append({"id": entry_id, "entry_date": paid_on,
                            "memo": f"{method.value} payment from {person.member_no}",
                            "source": EntrySource.PAYMENT, "reference": mpesa_code or reference,
                            "posted_by_id": None, "posted_at": posted_at, "reverses_id": None})
            postings.append({"id": ids.take(Posting), "entry_id": entry_id,
                             "account_id": method_account[method], "member_id": None,
                             "side": Side.DEBIT, "amount_cents": amount})
            if settled:
                postings.append({"id": ids.take(Posting), "entry_id": entry_id,
                                 "account_id": receivable, "member_id": person.id,
                                 "side": Side.CREDIT, "amount_cents": settled})
            if amount > settled:
                postings.append({"id": ids.take(Posting), "entry_id": entry_id,
                                 "account_id": credit_account, "member_id": person.id,
                                 "side": Side.CREDIT, "amount_cents": amount - settled})
            payments.append({"id": payment_id, "member_id": person.id, "amount_cents": amount,
                             "method": method, "mpesa_code": mpesa_code,
                             "reference": reference, "paid_on": paid_on,
                             "received_by_id": None, "entry_id": entry_id,
                             "created_at": posted_at})
            year = paid_on.year
            seq = receipt_seq[year] = receipt_seq.get(year, 0) + 1
            receipts.append({"id": ids.take(Receipt), "number": f"{short_code}-{year}-{seq:06d}",
                             "year": year, "seq": seq, "payment_id": payment_id,
                             "check_code": f"{rng.getrandbits(32):08x}",
                             "issued_at": datetime.combine(paid_on, time(6, 0)),
                             "voided_at": None, "void_reason": None, "voided_by_id": None,
                             "void_entry_id": None})
            by_method[method.value] += 1
            result.paid_cents += amount

        _core_insert(JournalEntry, entries, batch_size)
        _core_insert(Posting, postings, batch_size)
        _core_insert(Payment, payments, batch_size)
        _core_insert(Receipt, receipts, batch_size)
        result.entries += len(entries)
        result.postings += len(postings)
        result.payments += len(payments)
        result.receipts += len(receipts)
        if month.month == 12 or index == months - 1:
            elapsed = (datetime.now() - started).total_seconds()
            say(f"  books to {month:%Y-%m}: {result.entries:,} entries, "
                f"{result.postings:,} postings, {result.payments:,} payments "
                f"({elapsed:.0f} s)")

    # The charges, now that their open amounts are final, then the allocations.
    charge_rows = []
    for i in range(len(ch_member)):
        month = month_list[ch_month[i]]
        charge_rows.append({
            "id": first_charge_id + i, "member_id": ch_member[i], "month": month,
            "amount_cents": ch_amount[i], "rate_id": ch_rate[i], "waiver_id": None,
            "entry_id": dues_entry_of_month[ch_month[i]], "open_cents": ch_open[i],
            "created_at": datetime.combine(month, time(5, 0)),
        })
        if len(charge_rows) >= batch_size * 4:
            _core_insert(DuesCharge, charge_rows, batch_size)
            charge_rows = []
    _core_insert(DuesCharge, charge_rows, batch_size)
    result.charges = len(ch_member)
    allocation_rows = []
    for i in range(0, len(allocations), 4):
        charge, payment_id, entry_id, amount = allocations[i:i + 4]
        allocation_rows.append({
            "id": ids.take(Allocation), "charge_id": first_charge_id + charge,
            "payment_id": payment_id or None, "entry_id": entry_id,
            "amount_cents": amount, "reversed_by_entry_id": None,
        })
        if len(allocation_rows) >= batch_size * 4:
            _core_insert(Allocation, allocation_rows, batch_size)
            allocation_rows = []
    _core_insert(Allocation, allocation_rows, batch_size)
    result.allocations = len(allocations) // 4
    _core_insert(ReceiptCounter, [{"year": y, "last_seq": s} for y, s in receipt_seq.items()],
                 batch_size)
    _reset_sequences(JournalEntry, Posting, DuesCharge, Payment, Allocation, Receipt)
    # The postings went in around post_entry: add up their month totals as it would have.
    journal.rebuild_month_totals()

    result.receipts_by_year = dict(sorted(receipt_seq.items()))
    result.payments_by_method = by_method
    result.open_cents = sum(ch_open)
    result.credit_cents = sum(p.credit for p in people)
    busiest = max(people, key=lambda p: (p.habit == "monthly", p.charges, -p.id))
    result.busiest_member_id = busiest.id
    if verify:
        result.checks = verify_ledger(result)
    return result


@dataclass
class _Person:
    """A member as the generator sees them: who they are, how they pay, what they owe."""

    id: int
    member_no: str
    category: Category
    joined_on: date
    changes: list
    stopped: date | None
    rate_id: int | None
    rate: int
    habit: str
    offset: int
    methods: tuple
    #: Indexes of this member's charges with something still to pay, oldest first.
    open: list = field(default_factory=list)
    credit: int = 0
    charges: int = 0

    def status_at(self, day: date):
        """The status in force on ``day`` (as the members' ``statuses_on``)."""
        status = None
        for effective_on, value in self.changes:
            if effective_on > day:
                break
            status = value
        return status

    def settle(self, amount: int, ch_open, allocations, payment_id: int, entry_id: int) -> int:
        """Settle the oldest open charges with ``amount`` (as ``ledger.balances.allocate``);
        returns the cents used and records the allocations."""
        used = 0
        while self.open and amount > 0:
            i = self.open[0]
            part = min(ch_open[i], amount)
            ch_open[i] -= part
            amount -= part
            used += part
            allocations.extend((i, payment_id, entry_id, part))
            if ch_open[i] == 0:
                self.open.pop(0)
        return used

    def payment(self, index: int, month: date, end: date, rng: random.Random, ch_open):
        """(date, cents) of this member's payment in the month, or None."""
        first = max(month, self.joined_on)
        last = end if self.stopped is None else min(end, self.stopped - timedelta(days=1))
        if first > last or self.habit == "never" or not self.rate:
            return None
        habit, rate = self.habit, self.rate
        if habit == "monthly":
            if rng.random() < 0.12:
                return None  # a month missed now and then, paid with the next one
            owed = sum(ch_open[i] for i in self.open) - self.credit
            if owed <= 0:
                return None
            amount = owed + (rate if rng.random() < 0.08 else 0)  # now and then a month ahead
        elif habit == "bimonthly":
            if (index + self.offset) % 2:
                return None
            owed = sum(ch_open[i] for i in self.open) - self.credit
            amount = owed + (rate if rng.random() < 0.3 else 0)
            if amount <= 0:
                return None
        elif habit == "quarterly":
            if (index + self.offset) % 3:
                return None
            owed = sum(ch_open[i] for i in self.open) - self.credit
            amount = max(owed, 0) + 2 * rate  # this month and the next two, in advance
        else:  # late
            if rng.random() > 0.22:
                return None
            owed = sum(ch_open[i] for i in self.open) - self.credit
            if owed <= 0:
                return None
            roll = rng.random()
            if roll < 0.4:
                amount = owed
            elif roll < 0.8:
                amount = min(owed, rate * rng.randint(1, 4))
            else:  # a round sum, often part of a month
                amount = min(owed, rng.choice((2_000, 3_000, 10_000, 20_000, 50_000)))
        day = first + timedelta(days=rng.randint(0, (last - first).days))
        return day, amount


def _core_insert(model, rows: list[dict], batch_size: int) -> None:
    """Core ``executemany`` INSERTs in batches (faster than the ORM's bulk path)."""
    table = model.__table__
    for start in range(0, len(rows), batch_size):
        db.session.execute(table.insert(), rows[start:start + batch_size])


def _reset_sequences(*models) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequences past them."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite's rowids continue from the largest id by themselves
    for model in models:
        top = db.session.scalar(sa.select(sa.func.max(model.id))) or 0
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
                           {"t": model.__tablename__, "v": top + 1})


def verify_ledger(made: GeneratedLedger | None = None) -> list[LedgerCheck]:
    """Check the books as the services would leave them.

    The trial balance balances and every entry balances; each member's
    receivable sub-ledger equals the sum of their open charges; each charge's
    open amount is its amount less its allocations; member credit is never
    negative; receipt numbers run 1..N without gaps in every year and the
    counters hold N. With ``made``, the totals are also compared with what the
    generator meant to write.
    """
    checks = []
    tb = trial_balance.trial_balance()
    checks.append(LedgerCheck(
        "trial balance balances", tb.total_debit_cents == tb.total_credit_cents,
        f"debits {tb.total_debit_cents / 100:,.2f}, credits {tb.total_credit_cents / 100:,.2f}",
    ))
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    unbalanced = db.session.scalar(sa.select(sa.func.count()).select_from(
        sa.select(Posting.entry_id).group_by(Posting.entry_id)
        .having(sa.func.sum(signed) != 0).subquery()))
    entries = db.session.scalar(sa.select(sa.func.count(JournalEntry.id)))
    postings = db.session.scalar(sa.select(sa.func.count(Posting.id)))
    checks.append(LedgerCheck("every entry balances", unbalanced == 0,
                              f"{entries:,} entries, {postings:,} postings, "
                              f"{unbalanced} unbalanced"))
    differ = journal.month_totals_differences()
    checks.append(LedgerCheck("month totals agree with the postings", not differ,
                              f"{len(differ)} account-months differ"))

    receivable = accounts.account("dues_receivable").id
    credit_account = accounts.account("member_credit").id

    def sub_ledger(account_id: int) -> dict[int, int]:
        rows = db.session.execute(
            sa.select(Posting.member_id, sa.func.sum(signed))
            .where(Posting.account_id == account_id, Posting.member_id.is_not(None))
            .group_by(Posting.member_id))
        return {m: int(v) for m, v in rows if v}

    owed = sub_ledger(receivable)
    open_by_member = {m: int(v) for m, v in db.session.execute(
        sa.select(DuesCharge.member_id, sa.func.sum(DuesCharge.open_cents))
        .group_by(DuesCharge.member_id)) if v}
    differ = [m for m in owed.keys() | open_by_member.keys()
              if owed.get(m, 0) != open_by_member.get(m, 0)]
    detail = (f"{len(open_by_member):,} members owe {sum(open_by_member.values()) / 100:,.2f}; "
              f"{len(differ)} differ")
    if made is not None and sum(open_by_member.values()) != made.open_cents:
        differ.append("total")
        detail += f" (generator meant {made.open_cents / 100:,.2f})"
    checks.append(LedgerCheck("receivable per member = open charges", not differ, detail))

    allocated = (sa.select(Allocation.charge_id, sa.func.sum(Allocation.amount_cents).label("s"))
                 .where(Allocation.reversed_by_entry_id.is_(None))
                 .group_by(Allocation.charge_id).subquery())
    wrong = db.session.scalar(
        sa.select(sa.func.count(DuesCharge.id))
        .outerjoin(allocated, allocated.c.charge_id == DuesCharge.id)
        .where(DuesCharge.open_cents
               != DuesCharge.amount_cents - sa.func.coalesce(allocated.c.s, 0)))
    negative = db.session.scalar(sa.select(sa.func.count(DuesCharge.id)).where(
        sa.or_(DuesCharge.open_cents < 0, DuesCharge.open_cents > DuesCharge.amount_cents)))
    checks.append(LedgerCheck("open = amount - allocations", wrong == 0 and negative == 0,
                              f"{wrong} charges differ, {negative} out of range"))

    credit = {m: -v for m, v in sub_ledger(credit_account).items()}
    below_zero = [m for m, v in credit.items() if v < 0]
    detail = (f"{sum(1 for v in credit.values() if v > 0):,} members hold "
              f"{sum(credit.values()) / 100:,.2f}; {len(below_zero)} negative")
    if made is not None and sum(credit.values()) != made.credit_cents:
        below_zero.append("total")
        detail += f" (generator meant {made.credit_cents / 100:,.2f})"
    checks.append(LedgerCheck("member credit never negative", not below_zero, detail))

    counters = dict(db.session.execute(
        sa.select(ReceiptCounter.year, ReceiptCounter.last_seq)).all())
    gaps = []
    for year, count, low, high in db.session.execute(
        sa.select(Receipt.year, sa.func.count(), sa.func.min(Receipt.seq),
                  sa.func.max(Receipt.seq)).group_by(Receipt.year).order_by(Receipt.year)
    ):
        if not (low == 1 and high == count and counters.get(year) == high):
            gaps.append(year)
    checks.append(LedgerCheck("receipt numbers without gaps", not gaps,
                              ", ".join(f"{y}: {n:,}" for y, n in sorted(counters.items()))
                              + (f"; wrong in {gaps}" if gaps else "")))
    return checks
