"""Registry: pseudonymised closures for researchers."""
