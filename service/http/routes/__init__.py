"""The routes, one module per route group."""
