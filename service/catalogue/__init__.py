"""The saved queries: their metadata, typed parameters and the resolution of names to IRIs."""
