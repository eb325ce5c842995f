"""The graph: `WorkflowBuilder`, its validation, the compiled plan, and `Workflow`."""
