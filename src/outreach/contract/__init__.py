"""The published event contract, generated from the models in ``outreach.events``.

``catalogue`` lists the topics (key, producer, consumer, messages); ``json_schemas`` turns the
models into JSON Schemas, ``asyncapi`` into an AsyncAPI 3.0 document, ``field_tables`` into the
Markdown tables of ``docs/event-contract.md``; ``documents`` writes and checks the checked-in
copies (``outreach schema docs``).
"""
