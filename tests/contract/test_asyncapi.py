"""The AsyncAPI document: every topic described, every reference resolves, keys given."""

from __future__ import annotations

from typing import Any

import pytest

from outreach.contract.asyncapi import asyncapi_document
from outreach.contract.catalogue import SEND_CHANNEL_PARAMETER, TOPICS
from outreach.domain import Channel
from outreach.events import PHI_KEYWORD
from outreach.topics import all_topics


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _references(item)]
    return []


def _resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = document
    for token in reference[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_topic_outreach_creates_is_a_channel(document) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    templates = [a.replace(f"{{{SEND_CHANNEL_PARAMETER}}}", "") for a in addresses if "{" in a]
    for topic in all_topics():
        # A send topic per channel, plugins' included, fits the parameterised address.
        assert topic in addresses or any(
            topic.startswith(prefix) and Channel(topic.removeprefix(prefix)) for prefix in templates
        ), topic


def test_every_reference_resolves(document) -> None:
    references = _references(document)
    assert len(references) > 50
    for reference in references:
        assert _resolve(document, reference) is not None


def test_operations_carry_only_their_channels_messages(document) -> None:
    for name, operation in document["operations"].items():
        channel = _resolve(document, operation["channel"]["$ref"])
        for message in operation["messages"]:
            assert _resolve(document, message["$ref"]) in channel["messages"].values(), name


def test_outreach_receives_core_events_and_sends_outcomes(document) -> None:
    actions = {
        (document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"], op["action"])
        for op in document["operations"].values()
    }
    assert ("core.events", "receive") in actions and ("outreach.outcomes", "send") in actions
    assert ("core.events", "send") not in actions


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
def test_every_message_says_what_its_key_is(document, topic) -> None:
    for model in topic.messages:
        key = document["components"]["messages"][model.__name__]["bindings"]["kafka"]["key"]
        assert key["type"] == "string" and key["description"]
        assert key[PHI_KEYWORD] is topic.key_is_phi


def test_the_patient_id_keys_the_patient_topics(document) -> None:
    keyed_by_patient = {
        channel["address"]
        for channel in document["channels"].values()
        if "patient id" in channel["description"]
    }
    assert {"core.events", "outreach.outcomes", "outreach.send.{channel}"} <= keyed_by_patient
