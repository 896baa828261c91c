"""Operating the service: health, metrics, tracing, logging and the AsyncAPI document."""
