"""`storybridge bench`: the poller, the command path and the watch engine, each against a baseline."""
