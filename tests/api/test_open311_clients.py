"""Open311 as its clients speak it: the `georeport` library (reads, JSON and XML, no key: public reads) and
the `three` library (discovery, posting with an api_key, reads), beside raw HTTP for XML and discovery."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any
from xml.etree import ElementTree

from georeport import GeoReport

from tests.api.conftest import Stack, api_with
from tests.api.test_open311 import BASE, CHANNEL_KEY, assert_error, form

# `three` is Python 2 code; it imports itertools.ifilter, which is filter now.
itertools.ifilter = filter  # type: ignore[attr-defined]
import three  # noqa: E402


def as_list(value: Any) -> list[Any]:
    """xmltodict gives one child as a dict and several as a list."""
    return value if isinstance(value, list) else [value]


async def test_georeport_reads_services_and_requests_in_json_and_xml(stack: Stack) -> None:
    async with api_with(stack, open311_public_reads=True) as api:
        posted = await api.post(
            f"{BASE}/requests.json",
            data=form(address_string="多福巷9号", description="多福巷9号门口\n垃圾堆放，三天无人清运"),
        )
        assert posted.status_code == 201, posted.text
        case_id = posted.json()[0]["service_request_id"]
        root = f"{str(api.base_url).rstrip('/')}{BASE}"

        def read_with_georeport(fmt: str) -> dict[str, Any]:
            client = GeoReport(root, output_format=fmt)
            services = as_list(client.get_service_list())
            definition = client.get_service_definition("exposed_rubbish")
            mine = client.get_service_request(case_id)
            listed = as_list(client.get_service_requests(service_code="exposed_rubbish", status="open"))
            return {"services": services, "definition": definition, "mine": mine, "listed": listed}

        for fmt in ("json", "xml"):
            seen = await asyncio.to_thread(read_with_georeport, fmt)
            codes = {s["service_code"] for s in seen["services"]}
            assert {"exposed_rubbish", "lift_entrapment"} <= codes, fmt
            attributes = seen["definition"]["attributes"]
            [grid] = as_list(attributes["attribute"] if fmt == "xml" else attributes)
            assert grid["code"] == "grid_id" and str(grid["required"]).lower() == "true"
            values = as_list(grid["values"]["value"] if fmt == "xml" else grid["values"])
            assert "grid-a1-1" in {v["key"] for v in values}
            mine = seen["mine"]
            assert mine["service_request_id"] == case_id and mine["status"] == "open", fmt
            assert mine["description"] == "多福巷9号门口\n垃圾堆放，三天无人清运" and mine["address"] == "多福巷9号"
            assert float(mine["lat"]) == 39.9163 and float(mine["long"]) == 116.4045
            assert case_id in {r["service_request_id"] for r in seen["listed"]}


async def test_three_discovers_posts_with_its_key_and_reads_back(stack: Stack) -> None:
    endpoint = f"{str(stack.api.base_url).rstrip('/')}{BASE}/"
    description = f"三号楼路灯不亮 {uuid.uuid4().hex[:6]}"

    def use_three() -> dict[str, Any]:
        client = three.Three(endpoint=endpoint, api_key=CHANNEL_KEY)
        found = client.discovery()
        services = client.services()
        definition = client.services("street_lights_out")
        created = client.post(
            "street_lights_out", lat="39.9170", long="116.4050", description=description,
            first_name="四", last_name="李", phone="13700002222", **{"attribute[grid_id]": "grid-a1-1"},
        )  # fmt: skip
        case_id = created[0]["service_request_id"]
        return {
            "discovery": found,
            "services": services,
            "definition": definition,
            "created": created,
            "read": client.request(case_id, api_key=CHANNEL_KEY),
            "listed": client.requests("street_lights_out", api_key=CHANNEL_KEY),
            "refused": client.request(case_id),  # no key, public reads off
        }

    seen = await asyncio.to_thread(use_three)
    [endpoint_found] = seen["discovery"]["endpoints"]
    assert endpoint_found["url"].endswith("/open311/v2") and "text/xml" in endpoint_found["formats"]
    assert endpoint_found["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert "street_lights_out" in {s["service_code"] for s in seen["services"]}
    assert seen["definition"]["service_code"] == "street_lights_out"
    [created] = seen["created"]
    assert created["service_request_id"].startswith("case:open311:") and created["service_notice"]
    [read] = seen["read"]
    assert read["service_request_id"] == created["service_request_id"] and read["description"] == description
    assert "13700002222" not in str(seen)
    assert created["service_request_id"] in {r["service_request_id"] for r in seen["listed"]}
    assert seen["refused"][0]["code"] == 403


async def test_xml_and_discovery_over_raw_http(stack: Stack) -> None:
    r = await stack.api.get(f"{BASE}/services.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    services = ElementTree.fromstring(r.content)
    assert services.tag == "services" and services.find("service/service_code") is not None
    posted = await stack.api.post(f"{BASE}/requests.xml", data=form())
    assert posted.status_code == 201 and posted.headers["content-type"].startswith("text/xml"), posted.text
    created = ElementTree.fromstring(posted.content)
    assert created.tag == "service_requests" and created.findtext("request/service_request_id", "").startswith("case:")
    for path in ("/open311/discovery.json", f"{BASE}/discovery.json"):
        found = (await stack.api.get(path)).json()
        assert found["endpoints"][0]["url"].endswith("/open311/v2")
    discovery = ElementTree.fromstring((await stack.api.get("/open311/discovery.xml")).content)
    assert discovery.findtext("endpoints/endpoint/formats/format") == "text/xml"
    bad = await stack.api.get(f"{BASE}/requests.xml", params={"api_key": "nope"})
    assert bad.status_code == 403 and ElementTree.fromstring(bad.content).findtext("error/code") == "403"
    assert_error(await stack.api.get(f"{BASE}/services.csv"), 400)


async def test_public_reads_are_off_by_default_and_show_no_reporter_when_on(stack: Stack) -> None:
    assert_error(await stack.api.get(f"{BASE}/requests.json"), 403)
    async with api_with(stack, open311_public_reads=True) as api:
        posted = await api.post(f"{BASE}/requests.json", data=form())
        case_id = posted.json()[0]["service_request_id"]
        [public] = (await api.get(f"{BASE}/requests/{case_id}.json")).json()
        assert public["service_request_id"] == case_id
        assert not {"phone", "first_name", "last_name", "email"} & set(public)
        assert "13811112222" not in str(public)
        # A key still narrows a channel to its own cases, and a bad key is still refused.
        assert_error(await api.get(f"{BASE}/requests/{case_id}.json", params={"api_key": "demo-app"}), 404)
        assert_error(await api.get(f"{BASE}/requests.json", params={"api_key": "nope"}), 403)
