"""The prober: measures every catalog endpoint with small streaming requests and writes what it saw.

One module per protocol (``openai``, ``anthropic``) turns a probe shape into a request and reads the
stream through the shared SSE reader (``sse``) and timing record (``timing``); ``runner`` owns
timeouts, error classification (``classify``) and cost; ``scheduler`` runs every endpoint and shape
as an APScheduler job on a dedicated event-loop thread, within a daily budget, and hands the
observations to the batched writer on the main loop, so the timing path never waits on the database.
"""
