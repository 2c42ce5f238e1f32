"""The console: ``dashboard/`` reads the store and draws it. A Dash app (built per instance by
``app.create_app``) with four pages: an overview of every model's providers ranked now with their
health and last-hour trend, a model page of time series per provider, alerts, and routing decisions.
Reads go through ``queries`` (SQLAlchemy → polars, short windows from raw observations, long ones from
the rollups), ``shape``/``ranking`` turn frames into what is drawn, and ``figures`` draws it with one
fixed colour per provider. It never imports the router, and never shows a key or a webhook URL.
"""
