"""``GET /v1/route`` takes a route's name: the decision for its first step (the default model)
and the route's path, so an app can see where its route would go now."""

from __future__ import annotations

from pathlib import Path

from signalbox.cli.route import format_ranking
from tests.router.routes_harness import answer, ask, routes_env


async def test_a_route_name_gets_its_default_models_decision_and_its_path(tmp_path: Path) -> None:
    async with routes_env(tmp_path) as env:
        env.script(answer("small says hi"))
        assert (await env.post(ask("all"))).status_code == 200  # small has a sample now
        response = await env.http.get("/v1/route", params={"model": "all"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "small" and body["provider"] == "ps"
        assert body["route"] == {"name": "all", "path": ["small", "large"]}
        printed = format_ranking(body).splitlines()  # what `signalbox route all` prints
        assert printed[0] == "route all: small → large (first step below)"
        assert printed[1].startswith("small · ")
        with_objective = (await env.http.get("/v1/route", params={"model": "all@cost"})).json()
        assert with_objective["objective"] == "cost" and with_objective["route"]["name"] == "all"
        plain = (await env.http.get("/v1/route", params={"model": "small"})).json()
        assert "route" not in plain
        unknown = await env.http.get("/v1/route", params={"model": "no-such-route"})
        assert unknown.status_code == 404
