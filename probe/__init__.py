"""The prober: measures every catalog endpoint with small streaming requests and writes what it saw.

``runner`` is the one generic prober: the endpoint's wire protocol (``signalbox.protocols``) turns a
probe shape into a request and reads the stream (through the one SSE parser), the timing record
(``timing``) takes the marks, and the runner owns timeouts, error classification (``classify``)
and cost; ``scheduler`` runs every endpoint and shape
as an APScheduler job on a dedicated event-loop thread, within a daily budget, and hands the
observations to the batched writer on the main loop, so the timing path never waits on the database.
"""
