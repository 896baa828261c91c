"""Pure data: pydantic models of the wire contract and the Story API resources. No I/O here."""
