"""Saved SPARQL queries, one `.rq` file each with a `#+` metadata header."""
