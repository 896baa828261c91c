"""The Story API's endpoints, grouped by resource; `StoryClient` composes them."""
