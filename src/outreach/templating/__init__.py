"""Patient message templates: sandboxed rendering under a PHI policy that cannot be talked around.

Save time: ``validate_template`` (or ``find_violations``) analyses the syntax tree and refuses
anything outside a small whitelist, any unclassified or undeclared variable, and any PHI on a
surface that may not carry it. Send time: ``render`` checks again and hands Jinja only the
variables the policy allows, then applies the channel's rules (SMS segments, WhatsApp window).
Everything here is pure: no I/O beyond the package's seed files, and the clock is a parameter.
"""

from outreach.templating.analysis import variables_read
from outreach.templating.errors import (
    InvalidContextValue,
    InvalidPortalToken,
    MissingTemplateVariable,
    PhiPolicyViolation,
    PortalTokenProblem,
    SmsSegmentLimitExceeded,
    TemplateNotFound,
    TemplatePolicyError,
    TemplateRenderError,
    TemplatingError,
    Violation,
    ViolationCode,
    WhatsAppTemplateRequired,
)
from outreach.templating.language_fallback import language_tiers, select_template
from outreach.templating.opt_out_line import OPT_OUT_LINES, opt_out_line, with_opt_out_line
from outreach.templating.phi_policy import (
    DEFAULT_PHI_POLICY,
    EMAIL_BODY_PHI_POLICY,
    VARIABLE_REGISTRY,
    PhiPolicy,
    Sensitivity,
    Surface,
    SurfaceRule,
    VariableKind,
    VariableSpec,
    surfaces_of,
)
from outreach.templating.portal_links import (
    PortalClaim,
    PortalResource,
    consume_portal_token,
    make_portal_link,
    make_portal_token,
    verify_portal_token,
)
from outreach.templating.records import TemplateRecord
from outreach.templating.renderer import (
    RenderedMessage,
    TemplatePreview,
    TemplateRenderer,
    preview,
    render,
    renderer_for,
)
from outreach.templating.seeds import load_seed_templates
from outreach.templating.sms_encoding import SmsCost, SmsEncoding, detect_encoding, sms_cost
from outreach.templating.sms_limits import SMS_SEGMENT_LIMITS
from outreach.templating.unsubscribe_links import (
    ONE_CLICK_POST,
    UNSUBSCRIBE_PATH,
    InvalidUnsubscribeToken,
    UnsubscribeClaim,
    make_unsubscribe_link,
    make_unsubscribe_token,
    verify_unsubscribe_token,
)
from outreach.templating.validation import find_violations, validate_template
from outreach.templating.variants import assign_variant, template_family
from outreach.templating.whatsapp_rules import (
    WhatsAppTemplateMessage,
    WhatsAppTextMessage,
    whatsapp_payload,
    window_is_open,
)

__all__ = [
    "DEFAULT_PHI_POLICY",
    "EMAIL_BODY_PHI_POLICY",
    "ONE_CLICK_POST",
    "OPT_OUT_LINES",
    "SMS_SEGMENT_LIMITS",
    "VARIABLE_REGISTRY",
    "InvalidContextValue",
    "InvalidPortalToken",
    "InvalidUnsubscribeToken",
    "MissingTemplateVariable",
    "PhiPolicy",
    "PhiPolicyViolation",
    "PortalClaim",
    "PortalResource",
    "PortalTokenProblem",
    "RenderedMessage",
    "Sensitivity",
    "SmsCost",
    "SmsEncoding",
    "SmsSegmentLimitExceeded",
    "Surface",
    "SurfaceRule",
    "TemplateNotFound",
    "TemplatePolicyError",
    "TemplatePreview",
    "TemplateRecord",
    "TemplateRenderError",
    "TemplateRenderer",
    "TemplatingError",
    "UNSUBSCRIBE_PATH",
    "UnsubscribeClaim",
    "VariableKind",
    "VariableSpec",
    "Violation",
    "ViolationCode",
    "WhatsAppTemplateMessage",
    "WhatsAppTemplateRequired",
    "WhatsAppTextMessage",
    "assign_variant",
    "consume_portal_token",
    "detect_encoding",
    "find_violations",
    "language_tiers",
    "load_seed_templates",
    "make_portal_link",
    "make_portal_token",
    "make_unsubscribe_link",
    "make_unsubscribe_token",
    "opt_out_line",
    "preview",
    "render",
    "renderer_for",
    "select_template",
    "sms_cost",
    "surfaces_of",
    "template_family",
    "validate_template",
    "variables_read",
    "verify_portal_token",
    "verify_unsubscribe_token",
    "whatsapp_payload",
    "window_is_open",
    "with_opt_out_line",
]
