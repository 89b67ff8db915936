"""The one write path: a source or an update becomes the change it makes, validated and
committed with its provenance.
"""
