"""The AsyncAPI 3.0 document of every topic, built from the catalogue and the message models.

It describes outreach as the application: ``receive`` where outreach consumes, ``send`` where
it publishes. Payload schemas live under ``components.schemas`` (pydantic's JSON Schema, using
only what AsyncAPI's schema format accepts); Kafka keys are given as message bindings.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from outreach.contract.catalogue import (
    SEND_CHANNEL_PARAMETER,
    TOPICS,
    Topic,
    message_name,
    message_type,
)
from outreach.contract.json_schemas import ContractSchemaGenerator, plain_description
from outreach.domain import BUILTIN_CHANNELS
from outreach.events import PHI_KEYWORD

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
_SCHEMA_REF = "#/components/schemas/{model}"


def asyncapi_document() -> dict[str, Any]:
    """The whole document, ready for ``json.dumps``."""
    _, definitions = models_json_schema(
        [(model, topic.schema_mode) for topic in TOPICS for model in topic.messages],
        ref_template=_SCHEMA_REF,
        schema_generator=ContractSchemaGenerator,
    )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "outreach",
            "version": version("outreach"),
            "description": "The Kafka topics of outreach, the patient communication engine: the "
            "core platform's events it consumes, the outcomes it publishes back, and the topics "
            "between its own processes. Values are UTF-8 JSON; fields marked x-phi carry "
            "protected health information or personal data.",
        },
        "defaultContentType": "application/json",
        "channels": {topic.channel_id: _channel(topic) for topic in TOPICS},
        "operations": {
            _operation_id(topic, action): _operation(topic, action)
            for topic in TOPICS
            for action in topic.actions
        },
        "components": {
            "messages": {
                model.__name__: _message(topic, model)
                for topic in TOPICS
                for model in topic.messages
            },
            "schemas": definitions["$defs"],
        },
    }


def _channel(topic: Topic) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": topic.address,
        "title": topic.address,
        "summary": topic.summary,
        "description": f"Written by {topic.producer}, read by {topic.consumer}. "
        f"Kafka key: {topic.key}.",
        "messages": {
            message_name(model): {"$ref": f"#/components/messages/{model.__name__}"}
            for model in topic.messages
        },
    }
    if f"{{{SEND_CHANNEL_PARAMETER}}}" in topic.address:
        channel["parameters"] = {
            SEND_CHANNEL_PARAMETER: {
                "examples": [c.value for c in BUILTIN_CHANNELS],
                "description": "The channel the job is sent on: a built-in channel's name or a "
                "plugin's.",
            }
        }
    return channel


def _message(topic: Topic, model: type[BaseModel]) -> dict[str, Any]:
    kind = message_type(model)
    return {
        "name": message_name(model),
        "title": kind or model.__name__,
        "description": plain_description(model.__doc__ or ""),
        "contentType": "application/json",
        "payload": {"$ref": _SCHEMA_REF.format(model=model.__name__)},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": topic.key[:1].upper() + topic.key[1:] + ".",
                    PHI_KEYWORD: topic.key_is_phi,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation_id(topic: Topic, action: str) -> str:
    return f"{action}{topic.channel_id[0].upper()}{topic.channel_id[1:]}"


def _operation(topic: Topic, action: str) -> dict[str, Any]:
    who = topic.consumer if action == "receive" else topic.producer
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic.channel_id}"},
        "summary": f"{who[:1].upper()}{who[1:]} {action}s {topic.address}.",
        "messages": [
            {"$ref": f"#/channels/{topic.channel_id}/messages/{message_name(model)}"}
            for model in topic.messages
        ],
    }
