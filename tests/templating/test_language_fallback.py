"""Choosing the template: provider > organisation > global, es-MX > es > org default > en."""

from __future__ import annotations

import pytest

from outreach.domain import Channel, Purpose
from outreach.templating import TemplateNotFound, TemplateRecord, language_tiers, select_template


def tpl(
    tid: str,
    language: str,
    org: str | None = None,
    provider: str | None = None,
    *,
    version: int = 1,
    variant: str = "A",
    active: bool = True,
    purpose: Purpose = Purpose.APPT_REMINDER,
    channel: Channel = Channel.SMS,
    family: str | None = None,
) -> TemplateRecord:
    return TemplateRecord(
        id=tid,
        org_id=org,
        provider_id=provider,
        purpose=purpose,
        channel=channel,
        language=language,
        version=version,
        variant=variant,
        body="Hi {{ first_name }}",
        declared_variables=("first_name",),
        is_active=active,
        family=family,
    )


def pick(candidates: list[TemplateRecord], language: str | None = "es-MX", **kw: object) -> str:
    options: dict[str, object] = {
        "org_id": "org-1",
        "provider_id": "prov-1",
        "org_default_language": "fr",
    }
    options.update(kw)
    return select_template(
        candidates,
        Purpose.APPT_REMINDER,
        Channel.SMS,
        language,
        **options,  # type: ignore[arg-type]
    ).id


def test_language_tiers() -> None:
    assert language_tiers("es-MX", "fr-CA") == (("es-mx", "es"), ("fr-ca", "fr"), ("en",))
    assert language_tiers("en_GB", "en") == (("en-gb", "en"),)
    assert language_tiers(None, None) == (("en",),)


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (["g-en", "g-es", "g-es-MX"], "g-es-MX"),
        (["g-en", "g-es"], "g-es"),
        (["g-en", "g-fr"], "g-fr"),  # organisation default
        (["g-en", "g-pt"], "g-en"),  # last resort
        (["g-es-MX", "o-es"], "o-es"),  # an override in the patient's language wins
        (["o-es", "p-es"], "p-es"),
        (["p-en", "g-es"], "g-es"),  # the patient's language beats whose wording it is
        (["p-es", "p-es-MX", "o-es-MX"], "p-es-MX"),
        (["x-es", "g-en"], "g-en"),  # another organisation's template is never a candidate
        (["q-es", "g-en"], "g-en"),  # nor another provider's
    ],
)
def test_scope_and_language_order(available: list[str], expected: str) -> None:
    scopes = {
        "g": (None, None),
        "o": ("org-1", None),
        "p": ("org-1", "prov-1"),
        "x": ("org-2", None),
        "q": ("org-1", "prov-2"),
    }
    candidates = [tpl(name, name[2:], *scopes[name[0]]) for name in available]
    assert pick(candidates) == expected


def test_inactive_other_purpose_and_channel_are_ignored_and_latest_version_wins() -> None:
    candidates = [
        tpl("old", "es", version=1),
        tpl("new", "es", version=2),
        tpl("off", "es", version=3, active=False),
        tpl("mail", "es", version=4, channel=Channel.EMAIL),
        tpl("confirm", "es", version=5, purpose=Purpose.APPT_CONFIRM),
    ]
    assert pick(candidates) == "new"


def test_nothing_found() -> None:
    with pytest.raises(TemplateNotFound):
        pick([tpl("g-es", "es", active=False)])


def test_variants_are_deterministic_and_follow_weights() -> None:
    candidates = [tpl("a", "es", variant="A"), tpl("b", "es", variant="B")]
    first = [pick(candidates, patient_id=f"patient-{i}") for i in range(200)]
    again = [pick(list(reversed(candidates)), patient_id=f"patient-{i}") for i in range(200)]
    assert first == again
    assert 60 < first.count("a") < 140  # an even split, roughly
    assert pick(candidates) == "a"  # no patient: the first variant by name
    only_b = [
        pick(candidates, patient_id=f"p{i}", variant_weights={"A": 0, "B": 1}) for i in range(50)
    ]
    assert set(only_b) == {"b"}


def test_a_named_family_and_the_standard_templates_never_mix() -> None:
    candidates = [
        tpl("standard", "es"),
        tpl("recall-a", "es", family="recall"),
        tpl("recall-b", "es", family="recall", variant="B"),
    ]
    assert pick(candidates, patient_id="p1", variant_weights={"A": 0, "B": 1}) == "standard"
    assert pick(candidates, family="recall", variant="B") == "recall-b"
    with pytest.raises(TemplateNotFound, match="family 'promo'"):
        pick(candidates, family="promo")


def test_a_campaign_variant_without_its_own_template_gets_the_family_s_variant_a() -> None:
    candidates = [
        tpl("recall-a", "es", family="recall"),
        tpl("recall-c", "es", variant="C", family="recall"),
    ]
    assert pick(candidates, family="recall", variant="B") == "recall-a"
    assert pick(candidates, family="recall", variant="C") == "recall-c"
