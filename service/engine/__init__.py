"""The query engine: evaluation, killable worker processes, the reader/writer gate, the
inline lane.
"""
