"""The sandboxed Jinja2 environment patient templates run in, and its whitelists.

Static analysis (``analysis.py``) is the real gate; this environment is the second wall: immutable
sandbox, strict undefined, no globals (``range``, ``lipsum``, ``cycler``, ``joiner``,
``namespace``, ``dict`` are gone), only the whitelisted filters and tests, so even a template that
skipped analysis has nothing dynamic to reach for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import filters as jinja_filters
from jinja2 import tests as jinja_tests
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outreach.templating.budget import budgeted
from outreach.templating.formatting import format_date_filter, format_time_filter

# Filters that only reshape the value they are given; none looks anything up by name.
# Deliberately absent: attr, map, select/reject(attr), groupby, sum, dictsort, items, format,
# tojson, pprint, xmlattr, safe (would bypass escaping in e-mail HTML), list, join, first/last.
ALLOWED_FILTERS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "upper": jinja_filters.do_upper,
        "lower": jinja_filters.do_lower,
        "title": jinja_filters.do_title,
        "capitalize": jinja_filters.do_capitalize,
        "trim": jinja_filters.do_trim,
        "truncate": jinja_filters.do_truncate,
        "replace": jinja_filters.do_replace,
        "default": jinja_filters.do_default,
        "d": jinja_filters.do_default,
        "format_date": format_date_filter,
        "format_time": format_time_filter,
    }
)

ALLOWED_TESTS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "defined": jinja_tests.test_defined,
        "undefined": jinja_tests.test_undefined,
        "none": jinja_tests.test_none,
    }
)

# Comparison operators allowed in {% if %}: equality against literals only.
ALLOWED_COMPARISONS: frozenset[str] = frozenset({"eq", "ne"})


def build_environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    """A fresh sandbox; ``autoescape`` for e-mail HTML bodies, off for SMS, WhatsApp, subjects."""
    environment = ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=0,
    )
    environment.globals.clear()
    # Every filter is held to the render budget (budget.py): output cannot balloon.
    environment.filters = {name: budgeted(name, f) for name, f in ALLOWED_FILTERS.items()}
    environment.tests = dict(ALLOWED_TESTS)
    return environment
