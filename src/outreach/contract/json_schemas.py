"""JSON Schemas (draft 2020-12) of the messages, generated from ``outreach.events``.

A core event's schema says what outreach accepts (validation mode: ids may be integers); every
other schema says what outreach writes (serialization mode: every field is always present).
Each property carries its ``description`` and the ``x-phi`` marker.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from outreach.events import CORE_EVENT_MODELS, OUTCOME_MODELS

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_DOUBLE_BACKTICKS = re.compile(r"``([^`]+)``")
_WHITESPACE = re.compile(r"\s+")


def plain_description(docstring: str) -> str:
    """A docstring as one line of Markdown: reST's double-backquoted literals get single ones."""
    return _WHITESPACE.sub(" ", _DOUBLE_BACKTICKS.sub(r"`\1`", docstring)).strip()


def _tidy(schema: Any) -> Any:
    """Every description in ``schema`` as one line of Markdown (docstrings span lines)."""
    if isinstance(schema, dict):
        return {
            key: plain_description(value)
            if key == "description" and isinstance(value, str)
            else _tidy(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    return schema


class ContractSchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, tidied for readers: no per-property titles (the property name
    says it), descriptions on one line."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        return _tidy(super().generate(schema, mode))

    def generate_definitions(self, inputs: Any) -> Any:
        keys, definitions = super().generate_definitions(inputs)
        return keys, _tidy(definitions)


def message_schema(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
    """The standalone schema of one message model."""
    return {
        "$schema": DIALECT,
        **model.model_json_schema(mode=mode, schema_generator=ContractSchemaGenerator),
    }


def _union_schema(
    models: tuple[type[BaseModel], ...], mode: JsonSchemaMode, title: str, description: str
) -> dict[str, Any]:
    # One alternative per type, chosen by the type field; built at run time from the registry,
    # so mypy cannot check it as a type.
    union = Annotated[Union[models], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(mode=mode, schema_generator=ContractSchemaGenerator)
    return {"$schema": DIALECT, "title": title, "description": description, **schema}


def core_events_schema() -> dict[str, Any]:
    """Any ``core.events`` value this contract documents, its ``data`` typed by ``type``."""
    return _union_schema(
        CORE_EVENT_MODELS,
        "validation",
        "core.events",
        "An event from the core platform; data is typed by type. Outreach ignores event types "
        "not listed here.",
    )


def outcomes_schema() -> dict[str, Any]:
    """Any ``outreach.outcomes`` value, its ``data`` typed by ``type``."""
    return _union_schema(
        OUTCOME_MODELS,
        "serialization",
        "outreach.outcomes",
        "What outreach tells the core platform; data is typed by type. New types may be added: "
        "ignore the ones you do not know.",
    )
