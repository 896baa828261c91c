"""Handlers of the Story API's commands, one module per resource."""
