"""The Story API behind the watch engine's `Provider` seam: reads, facets, discovery."""
