"""Bedrock's request validation with Bedrock's own messages: the request as a whole
(`request`), messages and content blocks (`messages`), tools, tool choice and betas
(`tools`)."""
