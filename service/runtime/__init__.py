"""Process runtime: opening a backend (store, executor, ingest) and the cluster of HTTP
processes.
"""
