"""The model catalogue: the data file `catalog.toml` (models, profiles, windows,
capabilities, prices) and its lookups in `catalog` (aliases, profile for a region).

Imports nothing else of the package: the client and the emulator both read it.
"""
