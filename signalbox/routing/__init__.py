"""How a model's endpoints are ranked and chosen: pure, shared by the router, replay and the
dashboard.

``objectives`` is the table of objectives; ``scoring`` turns statistics into a score per objective;
``select`` filters by constraints and breaker state, ranks and chooses (sharing among near-best,
exploration); ``breaker`` is the per-endpoint circuit breaker; ``book`` keeps one endpoint's decayed
statistics and breaker, fed Samples, and produces the ``Candidate`` that selection reads. The
settings come from the catalog's ``[routing]`` (``signalbox.catalog.RoutingSettings``).
"""
