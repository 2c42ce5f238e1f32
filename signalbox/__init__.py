"""Signalbox's shared core: what two or more services need.

The schema and store (``schema``, ``db``, ``writer``), settings, the catalog and its sync, prices,
the observation record and error classes, and the time-decayed statistics (``stats``). Services
(``probe``, ``router``, ``dashboard``, ``simulator``) depend on this package; it depends on none of
them.
"""

__version__ = "0.1.0"
