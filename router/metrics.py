"""Prometheus counters and a latency histogram, rendered as the text exposition format."""

from __future__ import annotations

from collections import defaultdict

ADDED_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...], const: str = "") -> str:
    parts = [const] if const else []
    for n, v in zip(names, values, strict=True):
        escaped = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{n}="{escaped}"')
    return "{" + ",".join(parts) + "}" if parts else ""


class Metrics:
    """The router's counters (owned by one app; nothing global). In a multi-worker router each
    process counts its own and labels every series with ``worker``, so series from different
    processes never look like one counter that went backwards."""

    def __init__(self, worker: int | None = None) -> None:
        self.const = "" if worker is None else f'worker="{worker}"'
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.decisions: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.upstream_errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.fallbacks: defaultdict[tuple[str], int] = defaultdict(int)
        self.added_buckets = [0] * len(ADDED_LATENCY_BUCKETS_S)
        self.added_sum = 0.0
        self.added_count = 0

    def observe_added_latency(self, seconds: float) -> None:
        """Latency the router added to the first token (one proxied stream)."""
        self.added_sum += seconds
        self.added_count += 1
        for i, bound in enumerate(ADDED_LATENCY_BUCKETS_S):
            if seconds <= bound:
                self.added_buckets[i] += 1

    def render(self, gauges: dict[str, float] | None = None) -> str:
        """The Prometheus text format."""
        out: list[str] = []

        def counter(name: str, help_: str, names: tuple[str, ...], data: dict) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} counter")
            for key, value in sorted(data.items()):
                out.append(f"{name}{_labels(names, key, self.const)} {value}")

        counter(
            "signalbox_router_requests_total",
            "HTTP requests by path and status.",
            ("path", "status"),
            self.requests,
        )
        counter(
            "signalbox_router_decisions_total",
            "Routing decisions by model and chosen provider.",
            ("model", "provider"),
            self.decisions,
        )
        counter(
            "signalbox_router_upstream_errors_total",
            "Failed upstream attempts by provider and error class.",
            ("provider", "error_class"),
            self.upstream_errors,
        )
        counter(
            "signalbox_router_fallbacks_total",
            "Requests served by a later endpoint after a failed attempt.",
            ("model",),
            self.fallbacks,
        )
        name = "signalbox_router_added_latency_seconds"
        out.append(f"# HELP {name} First-token latency added by the router on proxied streams.")
        out.append(f"# TYPE {name} histogram")
        plain = _labels((), (), self.const)
        bounds = [*ADDED_LATENCY_BUCKETS_S, "+Inf"]
        for bound, count in zip(bounds, [*self.added_buckets, self.added_count], strict=True):
            out.append(f"{name}_bucket{_labels(('le',), (str(bound),), self.const)} {count}")
        out.append(f"{name}_sum{plain} {self.added_sum}")
        out.append(f"{name}_count{plain} {self.added_count}")
        for gname, value in (gauges or {}).items():
            out.append(f"# TYPE {gname} gauge")
            out.append(f"{gname}{plain} {value}")
        return "\n".join(out) + "\n"
