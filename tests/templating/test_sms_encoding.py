"""GSM-7 / UCS-2 detection and segment counts, on known examples and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.templating import SmsEncoding, detect_encoding, sms_cost
from outreach.templating.sms_encoding import GSM7_BASIC, GSM7_EXTENSION, normalize_typography

GSM, UCS = SmsEncoding.GSM_7, SmsEncoding.UCS_2


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM, 0, 0),
        ("Hello", GSM, 5, 1),
        ("a" * 160, GSM, 160, 1),
        ("a" * 161, GSM, 161, 2),
        ("a" * 306, GSM, 306, 2),
        ("a" * 307, GSM, 307, 3),
        ("€" * 80, GSM, 160, 1),  # extension characters cost two septets
        ("€" * 81, GSM, 162, 2),
        ("a" * 159 + "€", GSM, 161, 2),
        ("a" * 152 + "€" + "a" * 10, GSM, 164, 2),  # the escape pair is never split
        ("a" * 152 + "[" + "a" * 152, GSM, 306, 3),
        ("{}[]~|^\\", GSM, 16, 1),
        ("Ñandú", UCS, 5, 1),  # ú is not GSM-7 (ñ and Ñ are)
        ("Ñoño", GSM, 4, 1),
        ("ç", UCS, 1, 1),  # only the capital Ç is in the basic table
        ("é" * 160, GSM, 160, 1),
        ("á" * 70, UCS, 70, 1),
        ("á" * 71, UCS, 71, 2),
        ("á" * 134, UCS, 134, 2),
        ("á" * 135, UCS, 135, 3),
        ("😀", UCS, 2, 1),  # outside the BMP: a surrogate pair, two UTF-16 units
        ("😀" * 35, UCS, 70, 1),
        ("😀" * 36, UCS, 72, 2),
        ("a" + "😀" * 33 + "a" * 3, UCS, 70, 1),
        ("a" * 66 + "😀" + "a", UCS, 69, 1),
        ("a" * 66 + "😀" + "a" * 3, UCS, 71, 2),  # the pair moves whole to part two
        ("Hi Ana, your appointment is Sat, Mar 7 at 10:30 AM. Reply STOP to opt out.", GSM, 74, 1),
    ],
)
def test_known_examples(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    cost = sms_cost(text)
    assert (cost.encoding, cost.units, cost.segments) == (encoding, units, segments)


def test_typography_normalisation_keeps_letters() -> None:
    assert normalize_typography("9:30\u202fAM \u201cok\u201d \u2013 wait\u2026 ñá") == (
        '9:30 AM "ok" - wait... ñá'
    )
    assert detect_encoding(normalize_typography("10:30\u202fa.m.")) is GSM


gsm_text = st.text(alphabet=GSM7_BASIC + GSM7_EXTENSION, max_size=700)
any_text = st.text(max_size=400)


@given(gsm_text)
def test_gsm_text_counts_septets_and_fills_parts(text: str) -> None:
    cost = sms_cost(text)
    assert cost.encoding is GSM
    assert cost.units == len(text) + sum(ch in GSM7_EXTENSION for ch in text)
    if cost.units == 0:
        assert cost.segments == 0
    elif cost.units <= 160:
        assert cost.segments == 1
    else:
        # At least the capacity, at most one wasted septet per part boundary.
        assert -(-cost.units // 153) <= cost.segments <= -(-cost.units // 152)


@given(any_text)
def test_any_text_is_consistent_with_its_encoding(text: str) -> None:
    cost = sms_cost(text)
    if cost.encoding is UCS:
        assert any(ch not in GSM7_BASIC + GSM7_EXTENSION for ch in text)
        assert cost.units == len(text.encode("utf-16-le")) // 2
        if cost.units > 70:
            assert -(-cost.units // 67) <= cost.segments <= -(-cost.units // 66)
        else:
            assert cost.segments == (1 if text else 0)
    else:
        assert all(ch in GSM7_BASIC + GSM7_EXTENSION for ch in text)


@given(any_text, any_text)
def test_appending_never_makes_a_message_cheaper(head: str, tail: str) -> None:
    assert sms_cost(head + tail).segments >= sms_cost(head).segments


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "capacity"),
    [
        ("", GSM, 0, 160),
        ("Hello", GSM, 1, 160),
        ("a" * 160, GSM, 1, 160),
        ("a" * 161, GSM, 2, 153),  # each part of a long message carries a header
        ("€" * 81, GSM, 2, 153),
        ("á", UCS, 1, 70),
        ("á" * 70, UCS, 1, 70),
        ("á" * 71, UCS, 2, 67),
        ("😀" * 36, UCS, 2, 67),
    ],
)
def test_a_segment_holds_what_its_encoding_and_count_allow(
    text: str, encoding: SmsEncoding, segments: int, capacity: int
) -> None:
    cost = sms_cost(text)
    assert (cost.encoding, cost.segments, cost.segment_capacity) == (encoding, segments, capacity)
    assert cost.units <= max(cost.segments, 1) * cost.segment_capacity
