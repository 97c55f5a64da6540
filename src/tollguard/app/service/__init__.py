"""The live service: ``tollguard serve`` (FastAPI), the same engine as replay, live."""
