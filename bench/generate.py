"""Scale data for benchmarks: a believable association with many members, fast.

``generate_members()`` fills an empty, already-migrated database in one app
context; the caller commits. Later generators (years of ledger data) build on
the rows it returns and on :func:`bulk_insert`.

Audit trail: the rows are written with ORM *bulk* INSERTs
(``db.session.execute(sa.insert(Model), list_of_dicts)``). Those are executed
directly, not through the unit of work, so the ``before_flush``/``after_flush``
hooks in ``association.audit.services`` never see them and no audit events are
written for bench data. That is acceptable for a throwaway benchmark database
(and it is what makes 20,000 members take seconds, not minutes); never use
this module on a real register. Anything the caller adds with the ORM in the
same session *is* flushed and audited as usual.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import phonenumbers
import sqlalchemy as sa

from association.extensions import db
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
