"""SMS encoding (GSM 03.38 7-bit vs UCS-2) and segment counting, as carriers bill them.

One character outside the GSM 7-bit alphabet turns the whole message into UCS-2 and cuts a
segment from 160 to 70 characters, so cost is worth knowing before sending. Multipart messages
lose room to the concatenation header (153 septets / 67 UTF-16 units per part), and a part never
splits a two-septet extension character or a UTF-16 surrogate pair.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# GSM 03.38 basic character set (the escape 0x1B itself is not a character).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape septet plus its own.
GSM7_EXTENSION = "\f^{}\\[~]|€"

GSM7_SINGLE_SEGMENT = 160
GSM7_MULTIPART_SEGMENT = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTIPART_SEGMENT = 67

_NOT_GSM7 = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_GSM7_EXTENSION_CHARS = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# Typography that silently forces UCS-2 (babel writes "9:30\u202fAM"), mapped to GSM lookalikes.
_TYPOGRAPHY = str.maketrans(
    {
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u200a": " ",  # hair space
        "\u202f": " ",  # narrow no-break space
        "\u200b": "",  # zero-width space
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


# str.translate with a mapping is slow on every text; most texts have nothing to translate.
_TYPOGRAPHY_CHARS = re.compile("[" + "".join(chr(code) for code in _TYPOGRAPHY) + "]")


class SmsEncoding(enum.StrEnum):
    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsCost:
    encoding: SmsEncoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int  # 0 for an empty text: there is nothing to send

    @property
    def segment_capacity(self) -> int:
        """Units one segment holds: a single message has the whole 160 septets (70 UTF-16
        units), each part of a longer one loses room to the concatenation header (153 / 67)."""
        if self.encoding is SmsEncoding.GSM_7:
            return GSM7_SINGLE_SEGMENT if self.segments <= 1 else GSM7_MULTIPART_SEGMENT
        return UCS2_SINGLE_SEGMENT if self.segments <= 1 else UCS2_MULTIPART_SEGMENT


def normalize_typography(text: str) -> str:
    """Replace typographic spaces, quotes, dashes and ellipses with their GSM-7 lookalikes.

    Letters are never changed (``á`` stays ``á``): only characters a reader cannot tell apart.
    """
    if _TYPOGRAPHY_CHARS.search(text) is None:
        return text
    return text.translate(_TYPOGRAPHY)


def detect_encoding(text: str) -> SmsEncoding:
    return SmsEncoding.UCS_2 if _NOT_GSM7.search(text) else SmsEncoding.GSM_7


def _greedy_segments(costs: list[int], capacity: int) -> int:
    segments, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            segments += 1
            used = 0
        used += cost
    return segments


def sms_cost(text: str) -> SmsCost:
    """Encoding, size and segment count of ``text`` as sent (no normalisation applied)."""
    if not text:
        return SmsCost(detect_encoding(text), 0, 0)
    if detect_encoding(text) is SmsEncoding.GSM_7:
        extensions = len(_GSM7_EXTENSION_CHARS.findall(text))
        units = len(text) + extensions
        if units <= GSM7_SINGLE_SEGMENT:
            return SmsCost(SmsEncoding.GSM_7, units, 1)
        if not extensions:
            return SmsCost(SmsEncoding.GSM_7, units, -(-units // GSM7_MULTIPART_SEGMENT))
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsCost(SmsEncoding.GSM_7, units, _greedy_segments(costs, GSM7_MULTIPART_SEGMENT))
    astral = len(_ASTRAL.findall(text))
    units = len(text) + astral
    if units <= UCS2_SINGLE_SEGMENT:
        return SmsCost(SmsEncoding.UCS_2, units, 1)
    if not astral:
        return SmsCost(SmsEncoding.UCS_2, units, -(-units // UCS2_MULTIPART_SEGMENT))
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsCost(SmsEncoding.UCS_2, units, _greedy_segments(costs, UCS2_MULTIPART_SEGMENT))
