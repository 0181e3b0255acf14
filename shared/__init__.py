"""The platform's own library: configuration, database, bus, auth, crypto and web plumbing shared by every service."""
