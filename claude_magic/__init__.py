"""claude-magic: talk to Anthropic Claude on Amazon Bedrock from Jupyter cells."""

__version__ = "0.1.0"
