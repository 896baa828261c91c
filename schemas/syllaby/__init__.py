"""Syllaby Text-to-Scene wire models: strict request bodies, tolerant resources, the command models."""
