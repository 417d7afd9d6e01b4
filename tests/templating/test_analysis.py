"""The variables a template reads, in the order an author wrote them: what the console's editor
declares on the author's behalf (and WhatsApp's parameter order)."""

from __future__ import annotations

import pytest

from outreach.templating import variables_read


@pytest.mark.parametrize(
    ("sources", "names"),
    [
        (("Hello there",), ()),
        (("Hi {{ first_name }}",), ("first_name",)),
        (("{{ clinic_name }}: {{ first_name }} {{ clinic_name }}",), ("clinic_name", "first_name")),
        (("{% if portal_link %}{{ first_name }}{% endif %}",), ("portal_link", "first_name")),
        (("{{ appointment_date | date('long') }}",), ("appointment_date",)),
        (("{{ first_name }}", "{{ clinic_name }} {{ first_name }}"), ("first_name", "clinic_name")),
        (("{{ diagnosis }}",), ("diagnosis",)),  # read is read: the policy judges it later
        (("{{ unknown_thing }}",), ("unknown_thing",)),
        (("Hi {{ first_name",), ()),  # does not parse: validation reports the syntax error
        ((), ()),
    ],
)
def test_variables_read_in_order_of_first_use(
    sources: tuple[str, ...], names: tuple[str, ...]
) -> None:
    assert variables_read(*sources) == names
