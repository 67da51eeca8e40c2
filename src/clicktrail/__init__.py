"""Clicktrail: short links and sales attribution for dark social."""

__version__ = "0.1.0"
