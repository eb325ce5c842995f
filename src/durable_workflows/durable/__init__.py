"""The durable shell: the generic orchestrator, activity/entity wrappers and registration."""
