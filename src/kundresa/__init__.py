"""Kundresa: the customer journey as code, connected to your own event data."""
