"""The store: one small interface (`interface.py`) every backend implements, the embedded
pyoxigraph backend, its checkpoints and the version board.
"""
