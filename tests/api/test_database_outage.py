"""PostgreSQL away (a failover, a network cut): requests answer 503 in the error shape with Retry-After, the
health check says the database is down, and everything works again once it is back, with no restart."""

from __future__ import annotations

from config import Settings
from scripts.temporal_dev import free_port
from tests.api.conftest import key, serve
from tests.conftest import migrated_database
from tests.postgres import PostgresServer
from tests.proxy import Proxy


async def test_a_database_outage_answers_503_and_health_says_so(postgres: PostgresServer) -> None:
    url = migrated_database(postgres)
    proxy = await Proxy(postgres.port).start()
    through_proxy = url.replace(f":{postgres.port}/", f":{proxy.port}/")
    cfg = Settings(database_url=through_proxy, demo_keys=True, api_port=free_port(), temporal_address="127.0.0.1:1")
    async with serve(cfg) as api:
        assert (await api.get("/cases", headers=key("supervisor-12345"))).status_code == 200
        assert (await api.get("/healthz")).json()["database"] is True

        await proxy.cut()
        r = await api.get("/cases", headers=key("supervisor-12345"))
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "DatabaseUnavailable" and r.json()["message"]
        assert int(r.headers["retry-after"]) > 0
        health = await api.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] is False
        assert health.json()["status"] == "degraded"
        open311 = await api.get("/open311/v2/requests.json", params={"api_key": "demo-open311"})
        assert open311.status_code == 503 and open311.json()[0]["code"] == 503

        await proxy.mend()
        r = await api.get("/cases", headers=key("supervisor-12345"))
        assert r.status_code == 200, r.text
        assert (await api.get("/healthz")).json()["database"] is True
    await proxy.cut()
