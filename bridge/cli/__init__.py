"""The `storybridge` command line; `app` is the typer application."""
