"""The registry's rules, pure: no Flask, no SQLAlchemy, no environment, no I/O.

records (what a researcher may receive of a closure), gate (which closures and consent events the ingest lets in),
pseudonyms (the keyed second step), periods (date coarsening and period filters), codebook (columns and
vocabularies), reports (the report's tables from inner counts) and disclosure (one suppression pattern per filter set).
"""
