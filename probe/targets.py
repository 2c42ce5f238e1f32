"""From the catalog to probe targets: every enabled endpoint x shape, its store id, prices and key.

API keys come from the environment variable each provider names (``api_key_env``) and are attached
only to that provider's targets; a missing variable is logged by name, never by value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from signalbox.catalog import Catalog
from signalbox.prices import resolve_prices
from signalbox.probe.runner import Target

log = logging.getLogger(__name__)


def build_targets(
    catalog: Catalog,
    endpoint_ids: Mapping[tuple[str, str], int],
    env: Mapping[str, str],
) -> list[Target]:
    """One target per enabled endpoint and probe shape, in catalog order.

    ``endpoint_ids`` maps (provider name, model name) to the store id (``sync_catalog``'s report);
    ``env`` is where keys are read (``os.environ`` in production, a dict in tests).
    """
    targets: list[Target] = []
    warned: set[str] = set()
    for ref in catalog.endpoints():
        if not ref.spec.enabled:
            continue
        endpoint_id = endpoint_ids.get((ref.provider.name, ref.model))
        if endpoint_id is None:
            log.warning("endpoint %s has no store id (catalog not synced?); not probed", ref.key)
            continue
        api_key = None
        if ref.provider.api_key_env:
            api_key = env.get(ref.provider.api_key_env) or None
            if api_key is None and ref.provider.name not in warned:
                warned.add(ref.provider.name)
                log.warning(
                    "provider %s: environment variable %s is not set; probing without a key",
                    ref.provider.name,
                    ref.provider.api_key_env,
                )
        prices = resolve_prices(ref)
        for shape in catalog.probe.shapes:
            targets.append(Target(endpoint_id, ref, shape, prices, api_key))
    return targets
