"""Every v2 endpoint and every documented answer shape: the real client against the real sandbox."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from integritas_gui.core.answers import FileSegment
from integritas_gui.core.client import ChainRecord, ServiceError
from integritas_gui.core.errors import BadInput
from tests.contract.contract_helpers import RecordingTransport, new_hash, stats
from tests.sandbox_fixture import wait_for_block

MINIMA_ID = re.compile(r"0x[0-9A-F]{64}")


def stamp_and_confirm(client, sandbox, digest: str | None = None) -> str:
    digest = digest or new_hash()
    assert client.stamp(digest).newly_anchored
    wait_for_block(sandbox)
    return digest


# ---- stamp ------------------------------------------------------------------------------------


def test_stamp_of_a_new_hash_is_newly_anchored_and_found_after_the_next_block(sandbox, sandbox_client):
    digest = new_hash()
    result = sandbox_client.stamp(digest)
    assert result.newly_anchored is True and result.verification is None
    assert result.hash == digest
    assert result.message == "Hash anchored successfully."
    assert result.raw["data"]["service"] == "MINIMA_NODE"
    assert result.raw["data"]["params"]["state"]["99"].lower() == "0x" + digest
    assert uuid.UUID(result.request_id)  # the client's x-request-id, echoed

    assert sandbox_client.check(digest).status == "not_found"  # not in a block yet
    wait_for_block(sandbox)
    found = sandbox_client.check(digest)
    assert (found.status, found.message) == ("found", "Hash found.")
    counters = stats(sandbox)
    assert (counters["submissions"], counters["checks"], counters["anchored_hashes"]) == (1, 2, 1)
    assert counters["requests"] == 3 and counters["faults_injected"] == 0


def test_stamp_of_a_hash_already_on_chain_returns_verification_data(sandbox, sandbox_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    again = sandbox_client.stamp(digest)
    assert again.newly_anchored is False
    assert again.verification is not None and again.verification.result == "full match"
    [record] = again.verification.records  # what was on chain when it was stamped again
    assert record.matched_hash == digest and record.block_number > 0
    assert MINIMA_ID.fullmatch(record.txpow_id) and MINIMA_ID.fullmatch(record.transaction_id)

    # The real service adds another on-chain record each time: verify then lists both.
    wait_for_block(sandbox)
    verified = sandbox_client.verify(digest)
    assert len(verified.records) == 2
    assert len({r.txpow_id for r in verified.records}) == 2
    newest, oldest = verified.records
    assert newest.block_number > oldest.block_number == record.block_number
    assert stats(sandbox)["submissions"] == 2 and stats(sandbox)["records"] == 2


def test_hashes_are_normalised_before_sending_and_bad_ones_never_sent(sandbox):
    from tests.sandbox_fixture import fast_client

    transport = RecordingTransport()
    digest = new_hash()
    with fast_client(sandbox.base_url, sandbox.api_key, transport=transport) as client:
        result = client.stamp("0x" + digest.upper())
        assert result.hash == digest
        assert client.check(" 0X" + digest.upper() + " ").hash == digest
        with pytest.raises(BadInput):
            client.stamp("not-a-hash")
        with pytest.raises(BadInput):
            client.verify(digest[:-1])
    assert [json.loads(r.content)["hash"] for r in transport.requests] == [digest, digest]
    assert stats(sandbox)["requests"] == 2


# ---- check ------------------------------------------------------------------------------------


def test_check_of_an_unknown_hash_is_not_found(sandbox, sandbox_client):
    digest = new_hash()
    result = sandbox_client.check(digest)
    assert (result.hash, result.status, result.message) == (digest, "not_found", "Hash not found.")
    assert result.raw["data"]["service"] == "SEARCH_API"
    assert stats(sandbox)["checks"] == 1


# ---- verify -----------------------------------------------------------------------------------


def test_verify_of_an_unknown_hash_is_no_match_with_empty_arrays(sandbox, sandbox_client):
    digest = new_hash()
    result = sandbox_client.verify(digest)
    assert result.file_hash == digest
    assert (result.result, result.records, result.segments) == ("no match", (), ())
    assert result.unique_hashes == 0
    assert (result.nft_coin_id, result.nft_txn_id, result.report) == (None, None, None)
    assert result.message == "Verification complete"
    assert stats(sandbox)["verifications"] == 1 and stats(sandbox)["reports"] == 0


def test_verify_full_match_with_file_details_gives_records_and_one_segment(sandbox, sandbox_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    result = sandbox_client.verify(digest, filename="contract v2.pdf", filesize=78_082)
    assert result.file_hash == digest  # the service echoes it upper-case
    assert result.raw["data"]["data"]["fileHash"] == digest.upper()
    assert result.raw["data"]["data"]["fileName"] == "contract v2.pdf"
    assert result.result == "full match" and result.unique_hashes == 1
    [record] = result.records
    assert isinstance(record, ChainRecord) and record.matched_hash == digest
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.block_date)
    assert result.segments == (FileSegment(matched_hash=digest, offset=0, packet_size=78_082),)
    assert result.report is None and result.nft_coin_id is None


def test_verify_with_report_gives_nft_ids_and_an_expiring_pdf_link(sandbox, sandbox_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    result = sandbox_client.verify(digest, report=True)
    assert result.message == "Verification complete - PDF uploaded"
    assert MINIMA_ID.fullmatch(result.nft_coin_id) and MINIMA_ID.fullmatch(result.nft_txn_id)
    link = result.report
    assert link is not None and link.expires_in == "1 hour"
    assert re.fullmatch(r"verification-report-[0-9T-]+Z\.pdf", link.file_name)
    assert link.download_url.startswith(sandbox.origin + "/core/_sandbox/reports/")
    assert link.file_size > 1000
    assert stats(sandbox)["reports"] == 1 and stats(sandbox)["verifications"] == 1


def test_verify_sends_file_details_only_when_given_and_asks_for_report_by_header(sandbox):
    from tests.sandbox_fixture import fast_client

    transport = RecordingTransport()
    digest = new_hash()
    with fast_client(sandbox.base_url, sandbox.api_key, transport=transport) as client:
        client.verify(digest)
        client.verify(digest, filename="a.txt", filesize=3, report=True)
    plain, detailed = transport.requests
    assert json.loads(plain.content) == {"hash": digest}
    assert plain.headers["x-report-required"] == "false"
    assert json.loads(detailed.content) == {"hash": digest, "filename": "a.txt", "filesize": 3}
    assert detailed.headers["x-report-required"] == "true"
    assert all(r.method == "POST" and r.headers["content-type"] == "application/json"
               for r in transport.requests)


# ---- other answer shapes the real service may send ----------------------------------------------


def test_partial_match_lists_several_byte_ranges(sandbox, sandbox_client, make_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    result = make_client(shape="partial-match").verify(digest, filesize=10_000)
    assert result.result == "partial match" and result.unique_hashes == 2
    assert [(s.offset, s.packet_size) for s in result.segments] == [(0, 5000), (6024, 3976)]
    assert all(s.matched_hash == digest for s in result.segments)


def test_unknown_extra_fields_change_nothing(sandbox, sandbox_client, make_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    extra = make_client(shape="extra-fields")
    plain_verify = sandbox_client.verify(digest, filesize=10)
    extra_verify = extra.verify(digest, filesize=10)
    assert extra_verify.raw["data"]["data"]["blockchainData"][0]["confirmations"] == 12
    assert extra_verify == plain_verify  # raw is not compared
    assert extra.check(digest).status == "found"
    fresh = extra.stamp(new_hash())
    assert fresh.newly_anchored and "schemaRevision" in fresh.raw["data"]
    assert extra.stamp(digest).verification.result == "full match"
    reported = extra.verify(digest, report=True)
    assert reported.report is not None and reported.report.file_size > 1000


def test_missing_optional_fields_are_tolerated(sandbox, sandbox_client, make_client, tmp_path):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    minimal = make_client(shape="minimal")
    fresh = minimal.stamp(new_hash())
    assert fresh.newly_anchored and fresh.request_id is None and fresh.message == ""
    assert set(fresh.raw) == {"status", "statusCode", "data"}
    assert minimal.check(digest).status == "found"
    assert minimal.check(new_hash()).status == "not_found"
    again = minimal.stamp(digest)
    assert not again.newly_anchored and again.verification.result == "full match"
    result = minimal.verify(digest, report=True)
    assert result.result == "full match" and result.file_hash == digest
    [record] = result.records
    assert record.block_number > 0 and MINIMA_ID.fullmatch(record.txpow_id)
    assert (record.block_date, record.transaction_id, record.matched_hash) == (None, None, None)
    assert (result.segments, result.unique_hashes, result.nft_coin_id) == ((), None, None)
    assert result.report.file_name == "verification-report.pdf" and result.report.file_size is None
    saved = minimal.download_report(result.report, tmp_path)
    assert saved.name == "verification-report.pdf" and saved.read_bytes().startswith(b"%PDF-")


def test_hashes_echoed_with_0x_and_upper_case_are_normalised(sandbox, sandbox_client, make_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    prefixed = make_client(shape="0x-hashes")
    check = prefixed.check(digest)
    assert check.raw["data"]["hash"] == "0x" + digest.upper() and check.status == "found"
    result = prefixed.verify(digest, filesize=5)
    assert result.raw["data"]["data"]["fileHash"] == "0x" + digest.upper()
    assert result.file_hash == digest and result.result == "full match"
    assert result.records[0].matched_hash == digest and result.segments[0].matched_hash == digest
    assert prefixed.stamp(new_hash()).newly_anchored


def test_answers_outside_the_documented_words_are_unknown_never_found(sandbox, sandbox_client,
                                                                      make_client):
    digest = stamp_and_confirm(sandbox_client, sandbox)
    odd = make_client(shape="unexpected-text")
    check = odd.check(digest)
    assert (check.status, check.message) == ("unknown", "Search index is rebuilding.")
    result = odd.verify(digest)
    assert result.result == "unknown" and len(result.records) == 1  # the records are still shown


def test_error_envelope_in_a_200_answer_is_an_error_not_a_result(sandbox, make_client):
    client = make_client(fault="error-200")
    with pytest.raises(ServiceError) as caught:
        client.stamp(new_hash())
    assert caught.value.kind == "bad_request" and caught.value.status == 400  # statusCode
    assert "Hash could not be processed" in caught.value.message
    counters = stats(sandbox)
    assert counters["requests"] == 1 and counters["submissions"] == 0  # never retried


def test_error_envelopes_carry_the_servers_message(sandbox, sandbox_client):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.verify(new_hash(), filesize=-1)  # the sandbox rejects a negative size
    error = caught.value
    assert (error.kind, error.status) == ("bad_request", 400)
    assert "The service said: Invalid filename or filesize" in error.message
    assert stats(sandbox)["verifications"] == 0 and stats(sandbox)["requests"] == 1
