"""Who may do what in the registry (the one place role names appear in this service).

Researchers read everything the registry serves: exports, the change feed, the codebook, the report's tables, the
releases' files and tables, and the pages. The admin cuts releases (there is no research-lead role; the admin
already owns the project's settings) and reads the download log, and sees the releases' records, notes and
manifests, never their files. Every other role gets 403. The ingest is the bus consumer's (no role).
"""

RESEARCH = ("researcher",)
RELEASE_ADMIN = ("admin",)
RELEASE_VIEW = ("researcher", "admin")
