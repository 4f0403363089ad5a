"""The offline responder: an honest, deterministic reply to a validated request
(`respond`), a description of what was sent (`reflect`), the tools it calls (`tool_choice`)
with values the prompt gives (`prompt_values`, `words`) in JSON instances of tool schemas
(`schema_instance`), and a short agent run when offered the notebook agent's tools
(`agent`)."""
