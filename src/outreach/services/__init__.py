"""Use cases: each module takes a ``Store`` (repositories) and publishers as parameters and holds
no SQL text, no Kafka client and no HTTP. Agents, routes and the CLI call them."""
