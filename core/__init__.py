"""City Tools Graph: which IT systems local authorities run, for which services, from whom."""

__version__ = "0.1.0"
