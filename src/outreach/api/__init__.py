"""The HTTP API (FastAPI): scheduling, comm-context, preferences, templates, portal, webhooks."""

from outreach.api.app import create_api_app
from outreach.api.publisher import EventPublisher, PublishFailed

__all__ = ["EventPublisher", "PublishFailed", "create_api_app"]
