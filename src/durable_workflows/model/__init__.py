"""The model: the parts a graph is made of (executors, ports, agent nodes, edge groups, context)."""
