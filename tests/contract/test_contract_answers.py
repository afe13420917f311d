"""Answers other clients meet in the field (issue 14), against the sandbox over loopback: a report
asked for with no link in the answer, v1-style report links, dates without a zone, a report request
that must never be minted twice, one request id per logical request, and the CORS preflight."""

from __future__ import annotations

import httpx
import pytest

from integritas_gui.core.client import ServiceError
from tests.contract.contract_helpers import new_hash, stats
from tests.sandbox_fixture import closed_port, wait_for_block

# Both request paths of the client: its own keep-alive pool (the default) and httpx (what it uses
# when a transport is given, e.g. through a proxy).
TRANSPORTS = {"direct": lambda: None, "httpx": httpx.HTTPTransport}


def anchored(sandbox) -> str:
    digest = new_hash()
    sandbox.do_stamp(digest, "set-up")
    wait_for_block(sandbox)
    return digest


def verify_requests(sandbox, path="/core/v2/verify/file") -> list[dict]:
    return [seen for seen in sandbox.requests_seen() if seen["path"] == path]


# ---- item 2: a report asked for, no link in the answer -------------------------------------------

def test_a_report_answer_without_a_link_has_no_report(sandbox, make_client):
    client = make_client(shape="no-report-link")
    result = client.verify(anchored(sandbox), report=True)
    assert result.result == "full match" and result.nft_coin_id
    assert result.report is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_v1_style_report_link_is_read_and_downloaded(sandbox, make_client, tmp_path, transport):
    client = make_client(shape="v1-report-link", transport=TRANSPORTS[transport]())
    result = client.verify(anchored(sandbox), report=True)
    assert result.report is not None and "download_url" in str(result.raw)
    saved = client.download_report(result.report, tmp_path)
    assert saved.read_bytes().startswith(b"%PDF-") and saved.name.startswith("verification-report-")


# ---- item 4: dates without a zone are UTC ---------------------------------------------------------

def test_block_dates_without_a_zone_are_stored_as_utc(sandbox, make_client):
    digest = anchored(sandbox)
    plain = make_client().verify(digest)
    naive = make_client(shape="naive-dates").verify(digest)
    assert "T" not in naive.raw["data"]["data"]["blockchainData"][0]["blockDate"]  # the shape is there
    [record] = naive.records
    assert record.block_date.endswith("Z")
    assert record.block_date[:19] == plain.records[0].block_date[:19]  # the same instant, UTC


# ---- item 6: a report is minted once; one request id per logical request --------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_report_request_that_timed_out_is_not_sent_again(sandbox, make_client, transport):
    digest = anchored(sandbox)
    client = make_client(fault="slow:1.5", timeout=0.3, verify_timeout=0.4, max_retries=3,
                         transport=TRANSPORTS[transport]())
    with pytest.raises(ServiceError) as caught:
        client.verify(digest, report=True)
    assert caught.value.kind == "report"
    assert "may have made the report" in caught.value.message
    assert "report list on integritas.technology" in caught.value.message
    assert stats(sandbox)["reports"] == 1  # the service made it once; the client did not ask again
    assert len(verify_requests(sandbox)) == 1


@pytest.mark.parametrize("fault", ("reset", "502"))
def test_a_report_request_whose_fate_is_unknown_is_not_sent_again(sandbox, make_client, fault):
    client = make_client(fault=f"{fault}; times=1", max_retries=3)
    with pytest.raises(ServiceError) as caught:
        client.verify(anchored(sandbox), report=True)
    assert caught.value.kind == "report" and "may have made the report" in caught.value.message
    assert len(verify_requests(sandbox)) == 1


@pytest.mark.parametrize("fault", ("503-html", "429:0"))
def test_a_report_request_the_service_refused_is_sent_again_with_the_same_id(sandbox, make_client, fault):
    client = make_client(fault=f"{fault}; times=2", max_retries=3)
    result = client.verify(anchored(sandbox), report=True)
    assert result.report is not None
    assert stats(sandbox)["reports"] == 1
    seen = verify_requests(sandbox)
    assert len(seen) == 3 and len({s["request_id"] for s in seen}) == 1


def test_a_report_request_that_could_not_connect_is_tried_again(make_client):
    port = closed_port()
    client = make_client(base_url=f"http://127.0.0.1:{port}/core", max_retries=2)
    with pytest.raises(ServiceError) as caught:
        client.verify(new_hash(), report=True)
    assert caught.value.kind == "network"  # nothing was sent, so retrying was safe


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("endpoint", ("check", "verify"))
def test_retries_of_one_request_keep_its_request_id(sandbox, make_client, transport, endpoint):
    digest = anchored(sandbox)
    client = make_client(fault="slow:1.0; times=2", timeout=0.3, verify_timeout=0.3, max_retries=3,
                         transport=TRANSPORTS[transport]())
    getattr(client, endpoint)(digest)
    getattr(client, endpoint)(digest)  # a second logical request gets its own id
    path = {"check": "/core/v2/file/check", "verify": "/core/v2/verify/file"}[endpoint]
    seen = [s["request_id"] for s in verify_requests(sandbox, path)]
    assert len(seen) == 4, seen  # two slow attempts, the answer, then the second request
    assert len(set(seen[:3])) == 1 and seen[3] != seen[0]
    assert stats(sandbox)["reports"] == 0


# ---- item 10: browsers -----------------------------------------------------------------------------

def test_the_cors_preflight_is_answered_and_every_answer_allows_any_origin(sandbox):
    with httpx.Client(trust_env=False, timeout=5) as http:
        preflight = http.options(sandbox.base_url + "/v2/verify/file", headers={
            "Origin": "https://docs.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, x-report-required, content-type"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"x-api-key", "x-request-id", "x-report-required", "content-type"} <= allowed
        answer = http.post(sandbox.base_url + "/v2/file/check", json={"hash": new_hash()},
                           headers={"x-api-key": sandbox.api_key, "Origin": "https://docs.example"})
        refused = http.post(sandbox.base_url + "/v2/file/check", json={"hash": new_hash()})
        report_list = http.get(sandbox.base_url + "/_sandbox/requests")
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
    assert [r["path"] for r in report_list.json()][-2:] == ["/core/v2/file/check"] * 2
