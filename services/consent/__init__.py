"""Consent: signed consents per office."""
