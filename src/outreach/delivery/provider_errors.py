"""One table from a provider's error code to what outreach does about it.

A send refused at once (the provider's API answered with an error) and a failure reported later
(a status webhook: bounce, undelivered, spam report) are both read here, so the retry policy, the
circuit breaker, fallback and opt-outs agree on what each code means.

Codes are the providers' own: Twilio error codes, SendGrid HTTP statuses (its API has no other
code) and event names, Meta error codes for WhatsApp. Channels report ``timeout`` when a request
went out and no answer came, and ``connection`` when it could not go out at all.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class ErrorAction(enum.StrEnum):
    """What to do with a message the provider did not take (or later failed to deliver)."""

    BACK_OFF = "back_off"  # provider trouble: try again later; counts against its circuit breaker
    RATE_LIMITED = "rate_limited"  # we went too fast: try again later; the breaker is not told
    RECIPIENT_BACK_OFF = "recipient_back_off"  # this recipient only is throttled: try later
    OPT_OUT = "opt_out"  # the provider holds an opt-out for the recipient: record it, never retry
    ADDRESS_FAILED = "address_failed"  # the address cannot be reached on this channel: fall back
    REFUSED = "refused"  # this message is refused (content, template, window): fall back


# Actions that end the attempt on this channel for good.
FINAL_ACTIONS = frozenset({ErrorAction.OPT_OUT, ErrorAction.ADDRESS_FAILED, ErrorAction.REFUSED})


@dataclass(frozen=True, slots=True)
class ErrorClass:
    action: ErrorAction
    # The provider may have accepted the message despite the error (a timeout after the request
    # went out, an internal error): never send again before asking the provider.
    uncertain: bool = False

    @property
    def is_final(self) -> bool:
        return self.action in FINAL_ACTIONS

    @property
    def trips_breaker(self) -> bool:
        """Whether the error says the provider is in trouble (what a circuit breaker counts)."""
        return self.action is ErrorAction.BACK_OFF


_BACK_OFF = ErrorClass(ErrorAction.BACK_OFF)
_MAYBE_ACCEPTED = ErrorClass(ErrorAction.BACK_OFF, uncertain=True)
_RATE_LIMITED = ErrorClass(ErrorAction.RATE_LIMITED)
_OPT_OUT = ErrorClass(ErrorAction.OPT_OUT)
_ADDRESS = ErrorClass(ErrorAction.ADDRESS_FAILED)
_REFUSED = ErrorClass(ErrorAction.REFUSED)

# (provider, code) -> class. Codes not listed fall to ``_by_shape`` below.
ERROR_TABLE: Mapping[tuple[str, str], ErrorClass] = MappingProxyType(
    {
        # Twilio: https://www.twilio.com/docs/api/errors
        ("twilio", "21610"): _OPT_OUT,  # the recipient replied STOP to this sender
        ("twilio", "21211"): _ADDRESS,  # invalid 'To' number
        ("twilio", "21614"): _ADDRESS,  # 'To' is not a mobile number
        ("twilio", "21612"): _ADDRESS,  # 'To' not reachable from this 'From'
        ("twilio", "30003"): _ADDRESS,  # unreachable handset
        ("twilio", "30005"): _ADDRESS,  # unknown destination
        ("twilio", "30006"): _ADDRESS,  # landline or unreachable carrier
        ("twilio", "21408"): _REFUSED,  # region not enabled for this account
        ("twilio", "21602"): _REFUSED,  # body required
        ("twilio", "21617"): _REFUSED,  # body over 1600 characters
        ("twilio", "30004"): _REFUSED,  # message blocked
        ("twilio", "30007"): _REFUSED,  # carrier filtered it as spam
        ("twilio", "20429"): _RATE_LIMITED,
        ("twilio", "429"): _RATE_LIMITED,
        ("twilio", "20003"): _BACK_OFF,  # credentials: an operator fixes them, jobs wait
        ("twilio", "20500"): _MAYBE_ACCEPTED,  # internal error: it may have been created
        ("twilio", "20503"): _BACK_OFF,  # service unavailable: refused before any work
        ("twilio", "30001"): _BACK_OFF,  # queue overflow
        ("twilio", "30008"): _BACK_OFF,  # unknown error
        # SendGrid Mail Send: HTTP statuses; later events by name
        ("sendgrid", "400"): _REFUSED,
        ("sendgrid", "403"): _REFUSED,
        ("sendgrid", "404"): _REFUSED,
        ("sendgrid", "413"): _REFUSED,
        ("sendgrid", "401"): _BACK_OFF,
        ("sendgrid", "429"): _RATE_LIMITED,
        ("sendgrid", "503"): _BACK_OFF,
        ("sendgrid", "bounce"): _ADDRESS,  # hard bounce: the mailbox does not take mail
        ("sendgrid", "dropped"): _ADDRESS,  # SendGrid suppressed the address (invalid, bounced)
        ("sendgrid", "spamreport"): _OPT_OUT,  # the patient marked it as spam
        ("sendgrid", "unsubscribe"): _OPT_OUT,
        ("sendgrid", "group_unsubscribe"): _OPT_OUT,
        # WhatsApp Cloud API: Meta error codes
        ("whatsapp", "130429"): _RATE_LIMITED,  # throughput reached
        ("whatsapp", "4"): _RATE_LIMITED,  # application request limit
        ("whatsapp", "80007"): _RATE_LIMITED,
        ("whatsapp", "131048"): _RATE_LIMITED,  # spam rate limit
        ("whatsapp", "131056"): ErrorClass(ErrorAction.RECIPIENT_BACK_OFF),  # pair rate limit
        ("whatsapp", "131026"): _ADDRESS,  # not a WhatsApp user (or cannot receive)
        ("whatsapp", "131050"): _REFUSED,  # the user stopped marketing messages
        ("whatsapp", "131047"): _REFUSED,  # outside the 24-hour window: needs a template
        ("whatsapp", "131021"): _ADDRESS,  # recipient is the sender
        ("whatsapp", "100"): _REFUSED,
        ("whatsapp", "131008"): _REFUSED,
        ("whatsapp", "131009"): _REFUSED,
        ("whatsapp", "131051"): _REFUSED,
        ("whatsapp", "132000"): _REFUSED,
        ("whatsapp", "132001"): _REFUSED,
        ("whatsapp", "132005"): _REFUSED,
        ("whatsapp", "132007"): _REFUSED,
        ("whatsapp", "132012"): _REFUSED,
        ("whatsapp", "132015"): _REFUSED,
        ("whatsapp", "132016"): _REFUSED,
        ("whatsapp", "131000"): _MAYBE_ACCEPTED,  # "something went wrong"
        ("whatsapp", "1"): _MAYBE_ACCEPTED,  # API unknown error
        ("whatsapp", "2"): _BACK_OFF,  # service temporarily unavailable
        ("whatsapp", "190"): _BACK_OFF,  # token expired: an operator fixes it
    }
)


def classify_send_error(provider: str, code: str | None, *, final: bool = False) -> ErrorClass:
    """What a refused send means. ``final`` is the channel's own judgement (a
    ``PermanentSendError``), used only for codes the table does not know."""
    if code is not None:
        known = ERROR_TABLE.get((provider, code))
        if known is not None:
            return known
    return _by_shape(code, final)


def _by_shape(code: str | None, final: bool) -> ErrorClass:
    if code == "timeout":
        return _MAYBE_ACCEPTED
    if code == "connection":
        return _BACK_OFF
    if code is not None and code.isdigit() and len(code) == 3:  # an HTTP status
        status = int(code)
        if status == 429:
            return _RATE_LIMITED
        if status >= 500:
            return _BACK_OFF if status == 503 else _MAYBE_ACCEPTED
        if status in (401, 403, 408):
            return _BACK_OFF
    return _ADDRESS if final else _BACK_OFF


def classify_delivery_failure(provider: str, status: str, code: str | None) -> ErrorClass:
    """What a later failure report means (``failed``, ``bounced`` or ``opted_out``, with the
    provider's code or event). A failure the table does not know says nothing against the
    address: the message is refused and falls back."""
    if status == "unsubscribed":
        return _OPT_OUT
    for key in (code, status):
        if key is not None:
            known = ERROR_TABLE.get((provider, key))
            if known is not None and known.is_final:
                return known
    if status == "bounced":
        return _ADDRESS
    return _REFUSED


def is_permanent(provider: str, code: str | None) -> bool:
    """Whether a channel should call this refusal permanent (no retry on this channel)."""
    return classify_send_error(provider, code).is_final
