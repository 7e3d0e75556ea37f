"""Shared test helpers and rigs (never imported by the product)."""
