"""/metrics of a served app with two workers sharing PROMETHEUS_MULTIPROC_DIR: whichever worker
answers a scrape reports the whole host, sockets, subscriptions and event deliveries included."""
import asyncio
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from db.engine import Database
from db.settings import Settings
from resolvers.connection import EVENT_TOPIC
from tests.api.connection_steps import request
from tests.api.test_subscriptions import CONNECTIONS
from tests.helpers import Cast
from tests.served import graphql_socket, served

REQUESTS = 30


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_two_workers_report_their_sum_with_sockets_subscriptions_and_events(
        database_url: str, settings: Settings, database: Database, cast: Cast,
        tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    async with served(database_url, settings, workers=2,
                      env={"PROMETHEUS_MULTIPROC_DIR": str(directory)}) as app:
        async with httpx.AsyncClient(base_url=app.http, timeout=30) as http:
            async with graphql_socket(app, cast.token("supplier_a_user")) as owner:
                await owner.subscribe(CONNECTIONS)
                await request(http, cast, "customer_a_user", "alpha", ["PROFILE"])
                assert (await owner.next())["data"]["connectionChanged"]["status"] == "PENDING"

                # given: requests on connections of their own, so both workers take some
                async def one() -> None:
                    async with httpx.AsyncClient(base_url=app.http) as fresh:
                        assert (await fresh.get("/healthz")).status_code == 200

                await asyncio.gather(*(one() for _ in range(REQUESTS)))
                # when
                scraped = samples((await http.get("/metrics")).text)
    # then: both workers counted (their files), and the scrape adds them up
    assert len({path.stem.rsplit("_", 1)[1] for path in directory.glob("*.db")}) >= 2
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    assert scraped[("escp_http_requests_total", frozenset(healthz.items()))] == REQUESTS
    topic = frozenset({("topic", EVENT_TOPIC)})
    assert scraped[("escp_websockets_open", frozenset())] == 1
    assert scraped[("escp_subscriptions_active", topic)] == 1
    assert scraped[("escp_events_delivered_total", topic)] == 1
    assert scraped[("escp_event_delivery_delay_seconds_count", topic)] == 1
    assert 0 < scraped[("escp_event_delivery_delay_seconds_sum", topic)] < 5
