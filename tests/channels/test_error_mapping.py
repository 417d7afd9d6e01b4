"""Which provider refusals are worth a retry: the table the retry policy relies on."""

import pytest

from outreach.channels import PermanentSendError, TransientSendError
from outreach.channels.email_sendgrid import classify_sendgrid_error
from outreach.channels.sms_twilio import classify_twilio_error
from outreach.channels.whatsapp_cloud import classify_whatsapp_error


@pytest.mark.parametrize(
    ("http_status", "code", "expected"),
    [
        (400, 21610, PermanentSendError),  # unsubscribed
        (400, 21211, PermanentSendError),  # invalid number
        (400, 21614, PermanentSendError),  # not a mobile number
        (400, 30001, TransientSendError),  # queue overflow
        (429, 20429, TransientSendError),
        (500, 20500, TransientSendError),
        (503, 20503, TransientSendError),
        (502, None, TransientSendError),
        (401, 20003, TransientSendError),  # our credentials: jobs wait for the operator
        (400, 21999, PermanentSendError),  # an unknown 4xx: the request itself is refused
        (None, None, TransientSendError),
    ],
)
def test_twilio(http_status, code, expected) -> None:
    assert classify_twilio_error(http_status, code) is expected


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (400, PermanentSendError),
        (403, PermanentSendError),
        (413, PermanentSendError),
        (401, TransientSendError),
        (429, TransientSendError),
        (500, TransientSendError),
        (503, TransientSendError),
    ],
)
def test_sendgrid(http_status, expected) -> None:
    assert classify_sendgrid_error(http_status) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (131026, PermanentSendError),  # undeliverable
        (131047, PermanentSendError),  # outside the 24 h window
        (100, PermanentSendError),
        (131051, PermanentSendError),
        (4, TransientSendError),
        (80007, TransientSendError),
        (130429, TransientSendError),
        (131048, TransientSendError),
        (131056, TransientSendError),
        (131000, TransientSendError),
        (190, TransientSendError),  # expired token: an operator's fix, not the patient's
        (None, TransientSendError),
    ],
)
def test_whatsapp(code, expected) -> None:
    assert classify_whatsapp_error(code) is expected
