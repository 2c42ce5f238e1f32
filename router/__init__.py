"""The router decides and forwards.

It keeps time-decayed statistics of every endpoint in memory (``live``: warmed from the store and
kept in step by ``follow``, plus its own traffic), ranks the equivalent endpoints of a model for an
objective under the app's constraints (``signalbox.routing``: selection over the scores of its
objectives, with circuit breakers), explains each decision (a sample goes to the store via
``decisions``), and serves an OpenAI-compatible proxy (``proxy``) that streams through the chosen
provider in its own wire protocol (``signalbox.protocols``), measures the pass-through (``events``,
``completion``) and falls back to the next endpoint before the first byte (``fallback``). ``app``
and ``handlers`` are the HTTP layer.
"""
