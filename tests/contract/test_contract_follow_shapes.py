"""Answers that decide whether a stamp is anchored and confirmed: flags sent as text or numbers, and
a hash the service finds before verify lists its block. The real client against the real sandbox."""

from __future__ import annotations

import pytest

from integritas_gui.core.answers import as_flag, decode_response
from integritas_gui.core.client import ServiceError
from tests.contract.contract_helpers import new_hash, stats
from tests.sandbox_fixture import wait_for_block


@pytest.mark.parametrize("value, flag", [
    (True, True), (False, False), ("true", True), ("false", False), (" TRUE ", True), ("False", False),
    (1, True), (0, False), ("1", True), ("0", False),
    (None, None), ("", None), ("yes", None), (2, None), (0.0, None), ([], None), ({}, None),
])
def test_as_flag_reads_booleans_as_services_send_them(value, flag):
    assert as_flag(value) is flag


@pytest.mark.parametrize("status", ["false", '"false"', '"FALSE"', "0", '"0"'])
def test_a_node_command_that_failed_is_an_error_whatever_form_its_status_takes(sandbox, make_client,
                                                                                status):
    client = make_client(fault=f"node-failed:{status}")
    with pytest.raises(ServiceError) as caught:
        client.stamp(new_hash())
    error = caught.value
    assert error.kind == "unavailable"
    assert error.message == ("The Integritas service could not pass the stamp to the Minima network, "
                             "so nothing was anchored (the node said: Insufficient funds). Stamp the "
                             "file again later.")
    counters = stats(sandbox)
    assert (counters["requests"], counters["submissions"], counters["pending"]) == (1, 0, 0)


def test_a_node_status_true_as_text_is_anchored(sandbox, make_client):
    client = make_client(fault='node-failed:"true"')  # the same answer, with a status that reads true
    assert client.stamp(new_hash()).newly_anchored


@pytest.mark.parametrize("status", ["false", '"false"', "0", '"0"'])
def test_an_envelope_whose_status_reads_false_is_an_error(status):
    body = ('{"status": %s, "statusCode": 402, "message": "Quota used up", "data": null}' % status).encode()
    with pytest.raises(ServiceError) as caught:
        decode_response(200, body)
    assert caught.value.kind == "plan_limit" and "Quota used up" in caught.value.message
    assert decode_response(200, b'{"status": "true", "data": {}}') == {"status": "true", "data": {}}


def test_no_record_shape_check_finds_the_hash_verify_lists_nothing(sandbox, sandbox_client, make_client):
    digest = new_hash()
    assert sandbox_client.stamp(digest).newly_anchored
    wait_for_block(sandbox)
    lagging = make_client(shape="no-record")
    assert lagging.check(digest).status == "found"
    for _ in range(2):
        result = lagging.verify(digest)
        assert (result.result, result.records, result.segments) == ("no match", (), ())
    again = lagging.stamp(digest)  # "already anchored", without a record either
    assert not again.newly_anchored and again.verification.records == ()
    assert sandbox_client.verify(digest).records  # the record is there for a client without the shape


def test_no_record_with_a_count_lags_only_that_many_verify_answers_per_hash(sandbox, sandbox_client,
                                                                          make_client):
    first, second = new_hash(), new_hash()
    for digest in (first, second):
        sandbox_client.stamp(digest)
    wait_for_block(sandbox)
    lagging = make_client(shape="no-record:2")
    assert [bool(lagging.verify(first).records) for _ in range(3)] == [False, False, True]
    assert [bool(lagging.verify(second).records) for _ in range(3)] == [False, False, True]


@pytest.mark.parametrize("shape", ["no-record:x", "no-record:", "minimal:2"])
def test_a_malformed_shape_argument_is_refused(sandbox, make_client, shape):
    with pytest.raises(ServiceError) as caught:
        make_client(shape=shape).check(new_hash())
    assert caught.value.status == 400 and "unknown sandbox shape" in caught.value.message
