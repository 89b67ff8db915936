"""Pure loaders: input bytes in, quads and a report out. No store, no HTTP."""
