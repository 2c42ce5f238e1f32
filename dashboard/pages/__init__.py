"""The console's pages: each module has ``PATH``, ``NAME``, ``layout(ctx, query)`` and
``register(app, ctx)`` (its callbacks, bound to one app instance)."""
