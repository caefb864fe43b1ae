"""One reader per source system, each turning its format into :class:`~promptship.interop.model.SourcePrompt` values (pure)."""
