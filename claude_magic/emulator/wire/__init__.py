"""The wire formats: AWS event-stream frames (`eventstream`), a Message as the Anthropic
event sequence (`events`), and request authentication (`sigv4`)."""
