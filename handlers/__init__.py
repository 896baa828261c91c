"""Thin command handlers, one module per resource: validate -> call the client -> start a watch -> outcome."""
