"""Intake: inclusion cases."""
