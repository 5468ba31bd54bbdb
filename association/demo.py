"""A believable demo association: zones, about 300 members and one login per role."""

import random
from datetime import date, timedelta

from association.auth.models import Role
from association.auth.services import create_user
from association.extensions import db
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

DEMO_PASSWORD = "mtaani-demo"  # noqa: S105 - the demo logins are public by design
DEMO_USERS = (
    ("chair", "Wanjiru Kamau", Role.CHAIR),
    ("treasurer", "Otieno Ochieng", Role.TREASURER),
    ("secretary", "Akinyi Atieno", Role.SECRETARY),
    ("coordinator", "Mwangi Njoroge", Role.COORDINATOR),
    ("auditor", "Fatuma Hassan", Role.AUDITOR),
    ("member", "", Role.MEMBER),
)

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


def demo_exists() -> bool:
    return get_profile() is not None


def seed(members: int = 300, today: date | None = None, rng_seed: int = 2026) -> dict:
    """Fill an empty database with the demo association; return what was made."""
    today = today or date.today()
    rng = random.Random(rng_seed)  # noqa: S311 - repeatable demo data, not secrets
    save_profile(
        ProfileData(
            name="Mlango Kubwa Landlords and Tenants Association",
            short_code="MLK",
            registration_body=RegistrationBody.SOCIAL_DEVELOPMENT,
            registration_number="DSD/NRB/MTH/2019/0457",
            county="Nairobi",
            sub_county="Mathare",
            ward="Mlango Kubwa",
            estate="Mabatini",
            contact_phone="0722 000 457",
            mpesa_kind=MpesaKind.PAYBILL,
            mpesa_number="174379",
            fiscal_year_start_month=1,
        )
    )
    zones = [save_zone(name, description) for name, description in ZONES]
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
    for username, name, role in DEMO_USERS:
        create_user(
            username,
            name or demo_member.full_name,
            DEMO_PASSWORD,
            {role},
            member_id=demo_member.id if role == Role.MEMBER else None,
            must_change_password=False,
        )
    db.session.flush()
    return {"members": len(made), "zones": len(zones), "users": len(DEMO_USERS)}


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

