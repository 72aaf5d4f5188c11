"""Presenting results: terminal tables, JSON and CSV (charts and maps come with the web app)."""
