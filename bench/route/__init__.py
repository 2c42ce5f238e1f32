"""Parts of the /v1/route benchmark (bench/bench_route.py): the processes and the load."""
