"""An e-mail's text part reads as text and its HTML part as HTML: each escaped for its format."""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.domain import Channel
from outreach.templating import render
from outreach.templating.email_parts import html_to_text
from tests.templating.factories import patient_context, record

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_smith_and_jones_arrives_as_written_in_both_parts() -> None:
    template = record(
        "<p>Hi {{ first_name }},</p><p>{{ clinic_name }} expects you.</p>",
        ("first_name", "clinic_name"),
        channel=Channel.EMAIL,
        subject="{{ clinic_name }}",
    )
    message = render(
        template,
        patient_context(first_name="Zoë", clinic_name="Smith & Jones"),
        now=NOW,
        timezone="UTC",
        locale="en",
    )
    assert message.body == "Hi Zoë,\n\nSmith & Jones expects you."
    assert message.html_body == "<p>Hi Zoë,</p><p>Smith &amp; Jones expects you.</p>"
    assert message.subject == "Smith & Jones"


def test_links_keep_their_address_in_the_text() -> None:
    text = html_to_text('<p>Book <a href="https://x.example/b?a=1&amp;c=2">here</a>.</p>')
    assert text == "Book here (https://x.example/b?a=1&c=2)."


def test_markup_a_value_carried_stays_text() -> None:
    assert html_to_text("<p>&lt;b&gt;bold&lt;/b&gt; &amp;amp;</p>") == "<b>bold</b> &amp;"
