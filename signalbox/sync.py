"""Sync the catalog's providers and endpoints into the store, idempotently.

Re-running changes nothing; an endpoint that left the catalog is disabled, never deleted, so its
history stays queryable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from signalbox.catalog import Catalog
from signalbox.prices import resolve_prices
from signalbox.schema import Endpoint, Provider

SYNC_ATTEMPTS = 3


@dataclass
class SyncReport:
    """What a sync did, and the id of every catalog endpoint."""

    endpoint_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the store was (or, in a dry run, would be) modified."""
        return bool(self.created or self.updated or self.disabled)

    def summary(self) -> str:
        """One line per change, or 'no changes'."""
        lines = [f"created {k}" for k in self.created]
        lines += [f"updated {k}" for k in self.updated]
        lines += [f"disabled {k}" for k in self.disabled]
        head = f"{len(self.endpoint_ids)} endpoints in catalog"
        return "\n".join([head, *lines]) if lines else f"{head}; no changes"


def _assign(row: object, values: dict[str, object]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def sync_catalog(engine: Engine, catalog: Catalog, *, dry_run: bool = False) -> SyncReport:
    """Create or update providers and endpoints from the catalog; disable those no longer in it.

    Safe when several processes start together on one store: one of two racing inserts of the
    same provider or endpoint fails on its unique key, and that process reads again and retries.
    """
    for attempt in range(SYNC_ATTEMPTS):
        try:
            return _sync_once(engine, catalog, dry_run=dry_run)
        except IntegrityError:
            if attempt == SYNC_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _sync_once(engine: Engine, catalog: Catalog, *, dry_run: bool) -> SyncReport:
    report = SyncReport()
    with Session(engine) as session:
        providers = {p.name: p for p in session.exec(select(Provider)).all()}
        for spec in catalog.providers:
            values = {
                "base_url": spec.base_url,
                "api": spec.api,
                "region": spec.region,
                "enabled": True,
            }
            row = providers.get(spec.name)
            if row is None:
                row = Provider(name=spec.name, **values)
                session.add(row)
                providers[spec.name] = row
                report.created.append(f"provider {spec.name}")
            elif _assign(row, values):
                report.updated.append(f"provider {spec.name}")
        listed = {p.name for p in catalog.providers}
        for name, row in providers.items():
            if name not in listed and row.enabled:
                row.enabled = False
                report.disabled.append(f"provider {name}")
        session.flush()

        by_id = {p.id: p.name for p in providers.values()}
        endpoints = {(by_id[e.provider_id], e.model): e for e in session.exec(select(Endpoint))}
        for ref in catalog.endpoints():
            prices = resolve_prices(ref)
            key = (ref.provider.name, ref.model)
            values = {
                "upstream_model": ref.spec.upstream_model,
                "price_input_per_mtok": prices.input_per_mtok,
                "price_output_per_mtok": prices.output_per_mtok,
                "price_source": prices.source,
                "enabled": ref.spec.enabled,
            }
            row = endpoints.get(key)
            if row is None:
                row = Endpoint(
                    provider_id=providers[ref.provider.name].id, model=ref.model, **values
                )
                session.add(row)
                endpoints[key] = row
                report.created.append(f"endpoint {ref.key}")
            elif _assign(row, values):
                report.updated.append(f"endpoint {ref.key}")
        in_catalog = {(ref.provider.name, ref.model) for ref in catalog.endpoints()}
        for key, row in endpoints.items():
            if key not in in_catalog and row.enabled:
                row.enabled = False
                report.disabled.append(f"endpoint {key[0]}/{key[1]}")
        session.flush()
        report.endpoint_ids = {
            key: row.id for key, row in endpoints.items() if key in in_catalog and row.id
        }
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return report
