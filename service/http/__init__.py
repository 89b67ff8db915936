"""The HTTP service: the FastAPI app, its middleware, errors, content negotiation and caching."""
