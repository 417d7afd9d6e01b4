"""The Markdown parts of ``docs/event-contract.md`` that are generated: the topic table and a
field table per message, read from the same JSON Schemas the contract publishes.

The rest of that document is written by hand; :func:`splice` replaces only the text between a
region's markers, so the drift test covers the tables and leaves the prose alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from outreach import topics
from outreach.contract.catalogue import TOPICS, Topic, message_name, message_type
from outreach.contract.json_schemas import message_schema, plain_description
from outreach.events import PHI_KEYWORD, CoreEvent, Outcome

_HEADER = "| field | type | required | meaning | PHI |\n| --- | --- | --- | --- | --- |"


class MissingRegion(LookupError):
    """The document lacks the markers of a generated region."""


def _begin(region: str) -> str:
    return f"<!-- BEGIN GENERATED {region} (outreach schema docs) -->"


def _end(region: str) -> str:
    return f"<!-- END GENERATED {region} -->"


def splice(document: str, regions: Mapping[str, str]) -> str:
    """``document`` with the text between each region's markers replaced by its new text."""
    for region, text in regions.items():
        begin, end = _begin(region), _end(region)
        start = document.find(begin)
        stop = document.find(end, start)
        if start < 0 or stop < 0:
            raise MissingRegion(f"no {begin} ... {end} in the document")
        document = f"{document[:start]}{begin}\n{text}\n{document[stop:]}"
    return document


def _definition(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[1]] if ref else schema


def _type_text(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """A JSON Schema type as integrators read it: ``string or integer, 1 to 64 chars``."""
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        text = " or ".join(_type_text(option, defs) for option in options)
        return f"{text}, or null" if len(options) < len(schema["anyOf"]) else text
    target = _definition(schema, defs)
    if "const" in target:
        return f'`"{target["const"]}"`'
    if "enum" in target:
        *most, last = [f"`{value}`" for value in target["enum"]]
        return f"{', '.join(most)} or {last}" if most else last
    kind = target.get("type", "any")
    if kind == "array":
        return "array of " + _type_text(target.get("items", {}), defs)
    if kind == "object":
        return "object, see below" if "properties" in target else "object"
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if "format" in target:
        text += f" ({target['format']})"
    if "minLength" in target and "maxLength" in target:
        text += f", {target['minLength']} to {target['maxLength']} chars"
    elif "maxLength" in target:
        text += f", up to {target['maxLength']} chars"
    return text


def field_table(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """One row per property of an object schema: name, type, required, meaning, PHI."""
    required = set(schema.get("required", ()))
    rows = [_HEADER]
    for name, prop in schema["properties"].items():
        rows.append(
            f"| `{name}` | {_type_text(prop, defs)} | {'yes' if name in required else 'no'} "
            f"| {prop.get('description', '')} | {'yes' if prop.get(PHI_KEYWORD) else 'no'} |"
        )
    return "\n".join(rows)


def _model_table(model: type[BaseModel], topic: Topic) -> str:
    schema = message_schema(model, topic.schema_mode)
    return field_table(schema, schema.get("$defs", {}))


def _data_section(model: type[BaseModel], topic: Topic) -> str:
    """A per-type model's heading, what it means, and the table of its ``data``."""
    schema = message_schema(model, topic.schema_mode)
    defs = schema.get("$defs", {})
    data = _definition(schema["properties"]["data"], defs)
    presence = "required" if "data" in schema.get("required", ()) else "optional"
    return (
        f"#### `{message_type(model)}`\n\n{plain_description(model.__doc__ or '')}\n\n"
        f"`data` ({presence}):\n\n{field_table(data, defs)}"
    )


def _typed_topic(topic: Topic, envelope: type[BaseModel]) -> str:
    parts = [
        f"Every message has these fields; `data` depends on `type`.\n\n"
        f"{_model_table(envelope, topic)}"
    ]
    parts += [_data_section(model, topic) for model in topic.messages]
    return "\n\n".join(parts)


def _topic_rows() -> str:
    rows = [
        "| topic | written by | read by | Kafka key | messages |",
        "| --- | --- | --- | --- | --- |",
    ]
    for topic in TOPICS:
        names = ", ".join(f"`{message_name(model)}`" for model in topic.messages)
        rows.append(
            f"| `{topic.address}` | {topic.producer} | {topic.consumer} | {topic.key} | {names} |"
        )
    return "\n".join(rows)


def _single_message_topic(topic: Topic) -> str:
    [model] = topic.messages
    return (
        f"### `{topic.address}`\n\n{topic.summary} Kafka key: {topic.key}.\n\n"
        f"{_model_table(model, topic)}"
    )


def generated_regions() -> dict[str, str]:
    """The text of each generated region of ``docs/event-contract.md``, by region name."""
    by_address = {topic.address: topic for topic in TOPICS}
    single = [topic for topic in TOPICS if message_type(topic.messages[0]) is None]
    return {
        "topics": _topic_rows(),
        topics.CORE_EVENTS: _typed_topic(by_address[topics.CORE_EVENTS], CoreEvent),
        topics.OUTCOMES: _typed_topic(by_address[topics.OUTCOMES], Outcome),
        "internal topics": "\n\n".join(_single_message_topic(topic) for topic in single),
    }
