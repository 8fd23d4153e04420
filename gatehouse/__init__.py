"""Gatehouse: multi-factor sign-in and conditional access for an organisation's apps."""

__version__ = "0.1.0"
