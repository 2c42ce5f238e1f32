"""Support for bench/bench_routes.py (routing across models, issue #18)."""
