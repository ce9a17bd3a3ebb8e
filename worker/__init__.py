"""pixverse-worker: drive the PixVerse Discord bot behind a PixVerse API v1 compatible HTTP API."""
__version__ = "0.1.0"
