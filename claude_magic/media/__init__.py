"""Media for Claude: images (normalise, resize, encode, within limits) and documents."""
