"""Gateway-overhead benchmark parts: the processes it starts (services) and the load client (load)."""
