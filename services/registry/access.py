"""Who may do what in the registry (the one place role names appear in this service).

Researchers read everything the registry serves: exports, the change feed, the codebook, the report's tables and
the pages. Every other role gets 403. The ingest is the bus consumer's (no role): it runs the handlers, not a view.
"""

RESEARCH = ("researcher",)
