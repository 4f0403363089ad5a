"""The error for image data that can't be sent to Claude."""


class ImageError(ValueError):
    """Image data that can't be turned into an image Claude accepts (message says why)."""
