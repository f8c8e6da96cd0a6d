"""callscope: speech-to-insight pipeline for recorded customer-service calls."""

__version__ = "0.1.0"
