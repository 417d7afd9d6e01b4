"""Signed portal links: they open what they say, until they expire, and never after tampering."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from outreach.domain import Purpose
from outreach.templating import (
    InvalidPortalToken,
    PortalResource,
    PortalTokenProblem,
    consume_portal_token,
    make_portal_link,
    make_portal_token,
    verify_portal_token,
)

SECRET = "portal-test-secret"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LAB = PortalResource(Purpose.LAB_READY, "lab-98765")
WEEK = timedelta(days=7)


def problem(token: str, secret: object = SECRET, now: datetime = NOW) -> PortalTokenProblem:
    with pytest.raises(InvalidPortalToken) as invalid:
        verify_portal_token(token, secret, now)  # type: ignore[arg-type]
    return invalid.value.problem


def test_link_round_trip() -> None:
    link = make_portal_link("https://portal.clinic.example/", SECRET, "patient-1", LAB, WEEK, NOW)
    assert link.startswith("https://portal.clinic.example/p/")
    claim = verify_portal_token(link.rsplit("/", 1)[1], SECRET, NOW)
    assert (claim.patient_id, claim.purpose, claim.resource_id) == (
        "patient-1",
        Purpose.LAB_READY,
        "lab-98765",
    )
    assert claim.expires_at == NOW + WEEK and not claim.one_time


def test_uuids_pack_small_and_come_back_identical() -> None:
    patient, resource = str(uuid.uuid4()), str(uuid.uuid4())
    token = make_portal_token(
        SECRET, patient, PortalResource(Purpose.RX_REFILL, resource), WEEK, NOW, one_time=True
    )
    assert len(token) < 100
    claim = verify_portal_token(token, SECRET, NOW)
    assert (claim.patient_id, claim.resource_id) == (patient, resource)
    upper = patient.upper()  # not canonical: kept as text, still identical
    claim = verify_portal_token(make_portal_token(SECRET, upper, LAB, WEEK, NOW), SECRET, NOW)
    assert claim.patient_id == upper


def test_expiry_is_exclusive() -> None:
    token = make_portal_token(SECRET, "patient-1", LAB, WEEK, NOW)
    verify_portal_token(token, SECRET, NOW + WEEK - timedelta(seconds=1))
    assert problem(token, now=NOW + WEEK) is PortalTokenProblem.EXPIRED


def test_wrong_secret_and_tampering_are_rejected() -> None:
    token = make_portal_token(SECRET, "patient-1", LAB, WEEK, NOW)
    assert problem(token, secret="another-secret") is PortalTokenProblem.BAD_SIGNATURE
    payload, tag = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 0x01  # another resource id
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + tag
    assert problem(forged) is PortalTokenProblem.BAD_SIGNATURE
    longer = make_portal_token(SECRET, "patient-1", LAB, WEEK * 52, NOW).split(".")[0]
    assert problem(f"{longer}.{tag}") is PortalTokenProblem.BAD_SIGNATURE
    flipped_tag = tag[:-2] + ("AA" if tag[-2:] != "AA" else "BB")
    assert problem(f"{payload}.{flipped_tag}") is PortalTokenProblem.BAD_SIGNATURE


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "."])
def test_malformed(token: str) -> None:
    assert problem(token) in (PortalTokenProblem.MALFORMED, PortalTokenProblem.BAD_SIGNATURE)


def test_one_time_tokens_are_consumed_once_with_a_set() -> None:
    token = make_portal_token(SECRET, "patient-1", LAB, WEEK, NOW, one_time=True)
    seen: set[str] = set()
    claim = consume_portal_token(token, SECRET, NOW, seen)
    assert claim.one_time and claim.nonce in seen
    with pytest.raises(InvalidPortalToken) as reused:
        consume_portal_token(token, SECRET, NOW, seen)
    assert reused.value.problem is PortalTokenProblem.REUSED


def test_one_time_tokens_with_an_external_store() -> None:
    store: dict[str, datetime] = {}

    def claim_nonce(nonce: str, expires_at: datetime) -> bool:  # a Redis SET NX stand-in
        if nonce in store:
            return False
        store[nonce] = expires_at
        return True

    token = make_portal_token(SECRET, "patient-1", LAB, WEEK, NOW, one_time=True)
    consume_portal_token(token, SECRET, NOW, claim_nonce)
    assert list(store.values()) == [NOW + WEEK]
    with pytest.raises(InvalidPortalToken):
        consume_portal_token(token, SECRET, NOW, claim_nonce)


def test_reusable_tokens_need_no_store() -> None:
    token = make_portal_token(SECRET, "patient-1", LAB, WEEK, NOW)
    seen: set[str] = set()
    consume_portal_token(token, SECRET, NOW, seen)
    consume_portal_token(token, SECRET, NOW, seen)
    assert seen == set()


def test_key_rotation_accepts_old_and_new_secrets() -> None:
    token = make_portal_token("old-secret", "patient-1", LAB, WEEK, NOW)
    verify_portal_token(token, ["new-secret", "old-secret"], NOW)
    assert problem(token, secret=["new-secret"]) is PortalTokenProblem.BAD_SIGNATURE


def test_bad_inputs_fail_loudly() -> None:
    with pytest.raises(ValueError):
        make_portal_token(SECRET, "p", LAB, timedelta(0), NOW)
    with pytest.raises(ValueError):
        make_portal_token(SECRET, "p", LAB, WEEK, datetime(2026, 3, 1))
    with pytest.raises(ValueError):
        make_portal_token("", "p", LAB, WEEK, NOW)
    with pytest.raises(ValueError):
        make_portal_token(SECRET, "p" * 256, LAB, WEEK, NOW)
