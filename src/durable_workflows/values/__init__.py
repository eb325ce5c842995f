"""Values: checking Python values against annotations, and carrying them as typed JSON."""
