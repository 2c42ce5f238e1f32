"""Wire protocols, one module each, in a registry keyed by the catalog's ``api`` value.

Each module (``openai``, ``anthropic``, ``gemini``) holds everything about its API: the request URL
for a base URL and model, auth headers and version constants, the probe's request, the translation
of an OpenAI chat request, a per-stream event reader (content kind, usage, finish, end, errors, and
the OpenAI chunk bytes an app receives) and error bodies. Its interface is
:class:`~signalbox.protocols.wire.WireProtocol`; ``sse`` is the one SSE parser everything shares.

Catalog validation, the probe, the router's forwarder, the OpenAPI document and the simulator read
:data:`PROTOCOLS`; none of them names a protocol. Adding one is a module and a line here.
"""

from __future__ import annotations

from signalbox.protocols import anthropic, gemini, openai
from signalbox.protocols.wire import WireProtocol

PROTOCOLS: dict[str, WireProtocol] = {
    p.name: p for p in (openai.PROTOCOL, anthropic.PROTOCOL, gemini.PROTOCOL)
}


def protocol(api: str) -> WireProtocol:
    """The protocol of a catalog ``api`` value (KeyError when unknown)."""
    return PROTOCOLS[api]
