"""Store interface, ingest path, HTTP app, linked-data browser and CLI."""
