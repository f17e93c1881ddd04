"""cardgen's version: the one place it is written (the package, the reports and the graph's key read it)."""

__version__ = "0.3.0"
