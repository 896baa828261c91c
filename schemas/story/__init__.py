"""The Story API: resources, requests, enums, envelopes, errors and its command models."""
