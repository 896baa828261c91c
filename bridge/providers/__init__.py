"""One subpackage per upstream API: its client, its watch provider and its sandbox."""
