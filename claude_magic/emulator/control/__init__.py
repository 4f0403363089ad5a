"""The Bedrock control plane (`boto3.client("bedrock")`), as far as the emulator serves it."""
