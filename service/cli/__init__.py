"""The `citytools` command line."""
