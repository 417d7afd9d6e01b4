"""The legal floor: contact hours and marketing volume that no configuration can widen.

Non-urgent messages go only between 08:00 and 21:00 recipient local time (TCPA). Florida numbers
get 08:00-20:00 and at most three marketing messages per 24 hours (Florida Telephone Solicitation
Act, which presumes the recipient's location from the area code). Preferences may narrow these
windows (quiet hours, work hours) but every window is intersected with the floor.
"""

from __future__ import annotations

from datetime import timedelta

# Seconds after local midnight.
LEGAL_WINDOW: tuple[int, int] = (8 * 3600, 21 * 3600)
FLORIDA_WINDOW: tuple[int, int] = (8 * 3600, 20 * 3600)

FLORIDA_AREA_CODES: frozenset[str] = frozenset(
    {
        "239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689",
        "727", "728", "754", "772", "786", "813", "850", "863", "904", "941", "954",
    }
)  # fmt: skip
FLORIDA_MARKETING_MAX: int = 3
FLORIDA_MARKETING_PERIOD: timedelta = timedelta(hours=24)


def is_florida_number(e164: str | None) -> bool:
    """Whether an E.164 number is a North American number with a Florida area code.

    The area code is what the statute goes by; a ported number or a resident with an out-of-state
    number is judged by the number, as the law does.
    """
    return e164 is not None and e164.startswith("+1") and e164[2:5] in FLORIDA_AREA_CODES


def legal_window(florida: bool) -> tuple[int, int]:
    """The local-time window, in seconds after midnight, in which non-urgent messages may go."""
    return FLORIDA_WINDOW if florida else LEGAL_WINDOW
