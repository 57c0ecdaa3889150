"""Patron: an open-source CRM for customer incentives."""

__version__ = "0.1.0"
