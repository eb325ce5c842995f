"""Hosting: backends, connections, worker and client factories, and the workflow host."""
