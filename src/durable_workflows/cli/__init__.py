"""The `durable-workflows` command line."""
