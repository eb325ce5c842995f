"""The runtime: the deterministic superstep engine, handler invocation, wire format and events."""
