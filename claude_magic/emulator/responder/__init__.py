"""The offline responder: an honest, deterministic reply to a validated request
(`respond`), a description of what was sent (`reflect`) and JSON instances of tool
schemas (`schema_instance`)."""
