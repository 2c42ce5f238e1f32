"""The routing-quality benchmark: the same seeded request stream through each routing policy."""
