"""The synthetic clinic's reference data: where patients live, what they are called, what ails them.

Plain tables, no logic: the weights are shares (they need not sum to 100). Phone ranges were chosen
so that every number drawn from them is valid for ``phonenumbers``; the clinic tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.domain import Channel


@dataclass(frozen=True, slots=True)
class PhoneRange:
    """Numbers ``+<country_code><prefix><digits random digits>``, valid for their country."""

    country_code: str
    prefixes: tuple[str, ...]
    digits: int


@dataclass(frozen=True, slots=True)
class Locality:
    """A region patients live in: its code, postal-code prefix and, in the US, its area codes."""

    region: str
    postal_prefix: str
    postal_digits: int
    area_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneProfile:
    """Who lives in a time zone: the numbers, places, languages and channels they use."""

    timezone: str
    phones: PhoneRange
    localities: tuple[Locality, ...]
    languages: tuple[tuple[str, float], ...]
    channels: tuple[tuple[Channel, float], ...]
    # Name list to draw from when it is not simply the patient's language.
    name_culture: str | None = None


_US_CHANNELS = ((Channel.SMS, 66), (Channel.EMAIL, 28), (Channel.WHATSAPP, 6))


def _us(
    timezone: str, localities: tuple[Locality, ...], languages: tuple[tuple[str, float], ...]
) -> ZoneProfile:
    # Exchange and subscriber digits are filled in per locality from its area codes.
    return ZoneProfile(timezone, PhoneRange("1", (), 7), localities, languages, _US_CHANNELS)


ZONES: dict[str, ZoneProfile] = {
    zone.timezone: zone
    for zone in (
        _us(
            "America/New_York",
            (
                Locality("NY", "100", 5, ("212", "646", "917")),
                Locality("NY", "112", 5, ("718", "347")),
                Locality("FL", "331", 5, ("305", "786")),
                Locality("FL", "328", 5, ("407",)),
                Locality("FL", "336", 5, ("813",)),
                Locality("GA", "303", 5, ("404",)),
                Locality("MA", "021", 5, ("617",)),
                Locality("PA", "191", 5, ("215",)),
            ),
            (("en", 70), ("es", 15), ("es-MX", 5), ("pt", 5), ("fr", 4), ("ro", 1)),
        ),
        _us(
            "America/Chicago",
            (
                Locality("IL", "606", 5, ("312", "773")),
                Locality("TX", "752", 5, ("214",)),
                Locality("TX", "770", 5, ("713",)),
                Locality("MN", "554", 5, ("612",)),
                Locality("LA", "701", 5, ("504",)),
            ),
            (("en", 72), ("es-MX", 14), ("es", 6), ("ro", 4), ("fr", 2), ("pt", 2)),
        ),
        _us(
            "America/Denver",
            (
                Locality("CO", "802", 5, ("303", "720")),
                Locality("UT", "841", 5, ("801",)),
                Locality("NM", "871", 5, ("505",)),
            ),
            (("en", 78), ("es-MX", 14), ("es", 6), ("fr", 2)),
        ),
        _us(
            "America/Phoenix",
            (
                Locality("AZ", "850", 5, ("602",)),
                Locality("AZ", "852", 5, ("480",)),
                Locality("AZ", "857", 5, ("520",)),
            ),
            (("en", 70), ("es-MX", 22), ("es", 6), ("fr", 2)),
        ),
        _us(
            "America/Los_Angeles",
            (
                Locality("CA", "900", 5, ("213", "323")),
                Locality("CA", "902", 5, ("310",)),
                Locality("CA", "941", 5, ("415",)),
                Locality("WA", "981", 5, ("206",)),
                Locality("OR", "972", 5, ("503",)),
                Locality("NV", "891", 5, ("702",)),
            ),
            (("en", 64), ("es-MX", 22), ("es", 8), ("pt", 3), ("fr", 3)),
        ),
        ZoneProfile(
            "Europe/Bucharest",
            PhoneRange("40", ("72", "73", "74", "75", "76", "77"), 7),
            (
                Locality("B", "0", 6),
                Locality("CJ", "400", 6),
                Locality("IS", "700", 6),
                Locality("TM", "300", 6),
                Locality("BV", "500", 6),
                Locality("CT", "900", 6),
            ),
            (("ro", 85), ("en", 9), ("fr", 6)),
            ((Channel.SMS, 48), (Channel.EMAIL, 22), (Channel.WHATSAPP, 30)),
        ),
        ZoneProfile(
            "Europe/Madrid",
            PhoneRange("34", ("6",), 8),
            (
                Locality("MD", "28", 5),
                Locality("CT", "08", 5),
                Locality("VC", "46", 5),
                Locality("AN", "41", 5),
                Locality("PV", "48", 5),
            ),
            (("es", 78), ("en", 8), ("ro", 6), ("fr", 4), ("pt", 4)),
            ((Channel.SMS, 30), (Channel.EMAIL, 22), (Channel.WHATSAPP, 48)),
        ),
        ZoneProfile(
            "Asia/Kolkata",
            PhoneRange("91", ("70", "81", "90", "94", "98", "99"), 8),
            (
                Locality("WB", "700", 6),
                Locality("MH", "400", 6),
                Locality("DL", "110", 6),
                Locality("KA", "560", 6),
            ),
            (("en", 100),),
            ((Channel.SMS, 25), (Channel.EMAIL, 25), (Channel.WHATSAPP, 50)),
            name_culture="in",
        ),
        ZoneProfile(
            "Australia/Lord_Howe",
            PhoneRange("61", ("40", "41", "42", "43"), 7),
            (Locality("NSW", "2898", 4),),
            (("en", 100),),
            ((Channel.SMS, 60), (Channel.EMAIL, 35), (Channel.WHATSAPP, 5)),
            name_culture="au",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class OrgTemplate:
    """A clinic: its home zone and language, its front-desk number, its sites and doctors."""

    name: str
    timezone: str
    language: str
    clinic_phone: PhoneRange
    locations: tuple[str, ...]
    # Where its patients live, as shares per time zone (travellers and diaspora included).
    patient_zones: tuple[tuple[str, float], ...]
    doctors: tuple[str, ...]


_NY, _CHI, _DEN, _PHX, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)
_BUC, _MAD, _KOL, _LHI = "Europe/Bucharest", "Europe/Madrid", "Asia/Kolkata", "Australia/Lord_Howe"

_US_PATIENTS = (
    (_NY, 34),
    (_CHI, 20),
    (_DEN, 9),
    (_PHX, 8),
    (_LA, 22),
    (_MAD, 1.5),
    (_BUC, 1),
    (_KOL, 2.5),
    (_LHI, 1.5),
)
_EN_DOCTORS = (
    "Dr. Sarah Chen",
    "Dr. James Miller",
    "Dr. Emily Johnson",
    "Dr. Michael Brown",
    "Dr. Olivia Davis",
    "Dr. David Wilson",
    "Dr. Grace Kim",
    "Dr. Robert Taylor",
    "Dr. Hannah Lee",
    "Dr. Daniel Walker",
)

ORG_TEMPLATES: tuple[OrgTemplate, ...] = (
    OrgTemplate(
        "Bayside Family Health",
        _NY,
        "en",
        PhoneRange("1", ("305",), 7),
        ("Bayside Family Health – Brickell", "Bayside Family Health – Coral Gables"),
        _US_PATIENTS,
        _EN_DOCTORS,
    ),
    OrgTemplate(
        "Clinica Sfântul Luca",
        _BUC,
        "ro",
        PhoneRange("40", ("21",), 7),
        ("Clinica Sfântul Luca – Floreasca", "Clinica Sfântul Luca – Cotroceni"),
        (
            (_BUC, 70),
            (_MAD, 14),
            (_NY, 3),
            (_CHI, 3),
            (_LA, 2),
            (_DEN, 1),
            (_PHX, 1),
            (_KOL, 2),
            (_LHI, 2),
        ),
        (
            "Dr. Ana Pop",
            "Dr. Mihai Ionescu",
            "Dr. Elena Popescu",
            "Dr. Andrei Stan",
            "Dr. Ioana Dumitru",
            "Dr. Radu Georgescu",
            "Dr. Maria Constantin",
            "Dr. Vlad Marin",
            "Dr. Cristina Munteanu",
            "Dr. Bogdan Lungu",
        ),
    ),
    OrgTemplate(
        "Centro Médico Retiro",
        _MAD,
        "es",
        PhoneRange("34", ("91",), 7),
        ("Centro Médico Retiro – Ibiza", "Centro Médico Retiro – Goya"),
        (
            (_MAD, 75),
            (_BUC, 6),
            (_NY, 4),
            (_LA, 3),
            (_CHI, 2),
            (_DEN, 1),
            (_PHX, 1),
            (_KOL, 4),
            (_LHI, 4),
        ),
        (
            "Dra. Lucía García",
            "Dr. Javier Martínez",
            "Dra. Carmen López",
            "Dr. Pablo Sánchez",
            "Dra. Marta Fernández",
            "Dr. Diego Romero",
            "Dra. Sofía Navarro",
            "Dr. Álvaro Ruiz",
            "Dra. Elena Morales",
            "Dr. Sergio Castro",
        ),
    ),
    OrgTemplate(
        "Desert Sky Medical Group",
        _PHX,
        "en",
        PhoneRange("1", ("602",), 7),
        ("Desert Sky Medical – Camelback", "Desert Sky Medical – Tempe"),
        ((_PHX, 60), (_DEN, 10), (_LA, 14), (_CHI, 6), (_NY, 6), (_KOL, 2), (_LHI, 1), (_MAD, 1)),
        _EN_DOCTORS,
    ),
    OrgTemplate(
        "Lakeview Health Partners",
        _CHI,
        "en",
        PhoneRange("1", ("312",), 7),
        ("Lakeview Health – Lincoln Park", "Lakeview Health – Evanston"),
        (
            (_CHI, 62),
            (_NY, 12),
            (_DEN, 6),
            (_PHX, 4),
            (_LA, 10),
            (_BUC, 2),
            (_MAD, 2),
            (_KOL, 1),
            (_LHI, 1),
        ),
        _EN_DOCTORS,
    ),
    OrgTemplate(
        "Pacific Coast Clinic",
        _LA,
        "en",
        PhoneRange("1", ("213",), 7),
        ("Pacific Coast Clinic – Santa Monica", "Pacific Coast Clinic – Pasadena"),
        ((_LA, 64), (_PHX, 8), (_DEN, 6), (_CHI, 6), (_NY, 8), (_KOL, 4), (_LHI, 3), (_MAD, 1)),
        _EN_DOCTORS,
    ),
)


@dataclass(frozen=True, slots=True)
class NamePool:
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


NAMES: dict[str, NamePool] = {
    "en": NamePool(
        (
            "Emma",
            "Olivia",
            "Ava",
            "Sophia",
            "Mia",
            "Abigail",
            "Emily",
            "Madison",
            "Chloe",
            "Grace",
            "Hannah",
            "Zoe",
        ),
        (
            "Liam",
            "Noah",
            "James",
            "William",
            "Benjamin",
            "Lucas",
            "Henry",
            "Jackson",
            "Ethan",
            "Daniel",
            "Michael",
            "Owen",
        ),
        (
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Miller",
            "Davis",
            "Wilson",
            "Anderson",
            "Taylor",
            "Thomas",
            "Moore",
            "Martin",
            "Thompson",
            "White",
            "Harris",
            "O'Brien",
            "Nguyen",
            "Kim",
            "Patel",
        ),
    ),
    "au": NamePool(
        ("Charlotte", "Amelia", "Isla", "Matilda", "Harper", "Ruby", "Ivy", "Willow"),
        ("Oliver", "Jack", "Leo", "Thomas", "Harrison", "Cooper", "Archie", "Hudson"),
        (
            "Wilson",
            "Thompson",
            "Nicholls",
            "Kelly",
            "Campbell",
            "Walsh",
            "Murphy",
            "Ryan",
            "Wright",
            "Mitchell",
        ),
    ),
    "es": NamePool(
        (
            "Lucía",
            "Sofía",
            "Martina",
            "María",
            "Julia",
            "Paula",
            "Valeria",
            "Carmen",
            "Elena",
            "Alba",
            "Noa",
            "Inés",
        ),
        (
            "Hugo",
            "Mateo",
            "Martín",
            "Lucas",
            "Leo",
            "Daniel",
            "Alejandro",
            "Pablo",
            "Manuel",
            "Álvaro",
            "Javier",
            "Adrián",
        ),
        (
            "García",
            "Rodríguez",
            "González",
            "Fernández",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Martín",
            "Jiménez",
            "Ruiz",
            "Hernández",
            "Díaz",
            "Moreno",
            "Muñoz",
            "Álvarez",
            "Romero",
        ),
    ),
    "es-MX": NamePool(
        (
            "Ximena",
            "Regina",
            "Camila",
            "Valentina",
            "Guadalupe",
            "Fernanda",
            "Renata",
            "Itzel",
            "Daniela",
            "Andrea",
            "Mariana",
            "Lupita",
        ),
        (
            "Santiago",
            "Diego",
            "José",
            "Emiliano",
            "Juan Pablo",
            "Luis",
            "Miguel Ángel",
            "Carlos",
            "Jorge",
            "Iker",
            "Sebastián",
            "Rodrigo",
        ),
        (
            "Hernández",
            "García",
            "Martínez",
            "López",
            "González",
            "Pérez",
            "Rodríguez",
            "Sánchez",
            "Ramírez",
            "Cruz",
            "Flores",
            "Gómez",
            "Morales",
            "Vázquez",
            "Reyes",
            "Jiménez",
            "Torres",
            "Mendoza",
        ),
    ),
    "fr": NamePool(
        (
            "Camille",
            "Léa",
            "Manon",
            "Chloé",
            "Inès",
            "Jade",
            "Louise",
            "Zoé",
            "Élodie",
            "Margaux",
            "Anaïs",
            "Céline",
        ),
        (
            "Gabriel",
            "Louis",
            "Raphaël",
            "Jules",
            "Adam",
            "Arthur",
            "Hugo",
            "Théo",
            "Nathan",
            "Étienne",
            "Mathis",
            "François",
        ),
        (
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Leroy",
            "Moreau",
            "Simon",
            "Laurent",
            "Lefèvre",
            "Michel",
            "Fontaine",
            "Rousseau",
        ),
    ),
    "pt": NamePool(
        (
            "Ana",
            "Beatriz",
            "Mariana",
            "Gabriela",
            "Larissa",
            "Juliana",
            "Fernanda",
            "Camila",
            "Letícia",
            "Inês",
            "Rafaela",
            "Luana",
        ),
        (
            "João",
            "Pedro",
            "Gabriel",
            "Lucas",
            "Mateus",
            "Rafael",
            "Thiago",
            "Guilherme",
            "Felipe",
            "Gonçalo",
            "Tiago",
            "Bruno",
        ),
        (
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Pereira",
            "Costa",
            "Rodrigues",
            "Almeida",
            "Nascimento",
            "Lima",
            "Araújo",
            "Ferreira",
            "Carvalho",
            "Gomes",
            "Ribeiro",
            "Conceição",
        ),
    ),
    "ro": NamePool(
        (
            "Ana",
            "Maria",
            "Elena",
            "Ioana",
            "Andreea",
            "Cristina",
            "Alexandra",
            "Mihaela",
            "Gabriela",
            "Raluca",
            "Ștefania",
            "Irina",
        ),
        (
            "Andrei",
            "Mihai",
            "Alexandru",
            "Ion",
            "Ștefan",
            "Gabriel",
            "Cristian",
            "Radu",
            "Vlad",
            "Florin",
            "Bogdan",
            "Tudor",
        ),
        (
            "Popescu",
            "Ionescu",
            "Pop",
            "Popa",
            "Stan",
            "Dumitru",
            "Stoica",
            "Gheorghe",
            "Matei",
            "Constantin",
            "Munteanu",
            "Rusu",
            "Marin",
            "Lungu",
            "Țurcanu",
            "Georgescu",
            "Șerban",
            "Dinu",
        ),
    ),
    "in": NamePool(
        (
            "Priya",
            "Ananya",
            "Diya",
            "Aditi",
            "Ishita",
            "Sneha",
            "Kavya",
            "Riya",
            "Pooja",
            "Shreya",
            "Meera",
            "Lakshmi",
        ),
        (
            "Arjun",
            "Aarav",
            "Rohan",
            "Vihaan",
            "Aditya",
            "Rahul",
            "Sourav",
            "Amit",
            "Kunal",
            "Siddharth",
            "Ravi",
            "Anirban",
        ),
        (
            "Banerjee",
            "Chatterjee",
            "Mukherjee",
            "Sharma",
            "Gupta",
            "Das",
            "Bose",
            "Sen",
            "Ghosh",
            "Patel",
            "Iyer",
            "Reddy",
            "Nair",
            "Singh",
            "Roy",
            "Dutta",
        ),
    ),
}

# (condition, share among patients below and above the age threshold, threshold)
CONDITIONS: tuple[tuple[str, float, float, int], ...] = (
    ("hypertension", 0.05, 0.32, 45),
    ("diabetes", 0.03, 0.15, 40),
    ("hyperlipidemia", 0.03, 0.20, 45),
    ("asthma", 0.09, 0.06, 18),
    ("copd", 0.0, 0.06, 55),
    ("depression", 0.06, 0.07, 18),
)
TAGS: tuple[tuple[str, float], ...] = (
    ("portal_user", 0.45),
    ("flu_shot_due", 0.20),
    ("smoker", 0.12),
    ("caregiver", 0.06),
    ("prefers_female_provider", 0.04),
)
# Age bands of a family practice's patient list: (lowest age, highest age, share).
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 17, 18),
    (18, 34, 22),
    (35, 49, 20),
    (50, 64, 21),
    (65, 79, 14),
    (80, 98, 5),
)

LAB_TESTS_BY_CONDITION: dict[str, tuple[str, ...]] = {
    "diabetes": ("Hemoglobin A1c", "Fasting glucose", "Urine microalbumin"),
    "hypertension": ("Basic metabolic panel", "Lipid panel"),
    "hyperlipidemia": ("Lipid panel",),
    "copd": ("Spirometry report", "Arterial blood gas"),
}
LAB_TESTS: tuple[str, ...] = (
    "Complete blood count",
    "Comprehensive metabolic panel",
    "Thyroid-stimulating hormone (TSH)",
    "Vitamin D, 25-hydroxy",
    "Urinalysis",
    "Lipid panel",
    "Ferritin",
    "Strep A rapid test",
    "COVID-19 PCR",
    "Vitamin B12",
)
MEDICATIONS_BY_CONDITION: dict[str, tuple[str, ...]] = {
    "diabetes": ("Metformin 500 mg", "Metformin 1000 mg", "Insulin glargine 100 U/mL"),
    "hypertension": ("Lisinopril 10 mg", "Amlodipine 5 mg", "Losartan 50 mg"),
    "hyperlipidemia": ("Atorvastatin 20 mg", "Rosuvastatin 10 mg"),
    "asthma": ("Albuterol inhaler 90 mcg", "Fluticasone inhaler 110 mcg"),
    "copd": ("Tiotropium inhaler 18 mcg",),
    "depression": ("Sertraline 50 mg", "Escitalopram 10 mg"),
}
MEDICATIONS: tuple[str, ...] = (
    "Levothyroxine 50 mcg",
    "Omeprazole 20 mg",
    "Cetirizine 10 mg",
    "Vitamin D3 1000 IU",
)
APPOINTMENT_REASONS: tuple[str, ...] = (
    "Annual check-up",
    "Follow-up visit",
    "Blood pressure review",
    "Vaccination",
    "Prenatal visit",
    "Diabetes review",
    "Skin rash",
    "Back pain",
    "Medication review",
    "Sports physical",
)
# Patient-chosen quiet hours (local start, end); the last ones are night-shift workers' days.
QUIET_HOURS: tuple[tuple[str, str], ...] = (
    ("22:00", "07:00"),
    ("21:00", "08:00"),
    ("20:00", "09:00"),
    ("23:00", "06:30"),
    ("21:30", "07:30"),
    ("08:00", "16:00"),
)
