"""Notify: reminders and digests."""
