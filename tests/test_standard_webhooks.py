"""The Standard Webhooks scheme (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), which a profile may
state for a platform of a user's own: signed and verified as the Standard Webhooks specification says
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, sections "Signature
scheme", "Webhook headers (sending metadata to consumers)" and "Verifying signatures"), and as the deliveries the
receiver checks send carry it. None of the built-in platforms uses it; tests/test_sixth_platform.py runs the
default run for a platform of files that states it.
"""

from __future__ import annotations

import json

import pytest

from hookproof import auth, catalog, wire
from hookproof.contract import NO_SOURCE, Contract, StandardWebhooks

# A test vector that implementations of the scheme widely share: secret, id, timestamp, body and the signature.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
CONTENT = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
def standard() -> Contract:
    """Codewars' contract with Standard Webhooks as its only scheme (the model allows it for any platform)."""
    return catalog.contract("codewars")._replace(auth=(StandardWebhooks(source=NO_SOURCE),))


def test_signing_reproduces_the_published_test_vector(standard: Contract) -> None:
    assert auth.standard_signature(SECRET, MSG_ID, str(TIMESTAMP), CONTENT) == SIGNATURE
    headers = auth.sign(standard, CONTENT, json.loads(CONTENT), SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE}


def test_verification_accepts_the_vector_and_refuses_each_way_it_can_be_wrong(standard: Contract) -> None:
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE}
    body = json.loads(CONTENT)
    assert auth.verify(standard, headers, CONTENT, body, SECRET, now=TIMESTAMP + 10) == []
    # several signatures, space-delimited (a key being rotated, "Webhook headers"): one that matches is enough
    rotated = {**headers, "webhook-signature": "v1,AAAA " + SIGNATURE}
    assert auth.verify(standard, rotated, CONTENT, body, SECRET, now=TIMESTAMP) == []
    wrong = [
        ({**headers, "webhook-signature": "v1," + "A" * 43 + "="}, "webhook-signature", False),
        ({**headers, "webhook-id": "msg_other"}, "webhook-signature", False),  # the id is signed
        ({k: v for k, v in headers.items() if k != "webhook-timestamp"}, "webhook-timestamp", True),
    ]
    for sent, header, missing in wrong:
        problems = auth.verify(standard, sent, CONTENT, body, SECRET, now=TIMESTAMP)
        assert [(p.header, p.missing) for p in problems] == [(header, missing)], sent
    assert auth.verify(standard, headers, CONTENT + b" ", body, SECRET, now=TIMESTAMP)  # the body is signed
    late = auth.verify(standard, headers, CONTENT, body, SECRET, now=TIMESTAMP + 301)  # 300 s of tolerance
    assert [p.header for p in late] == ["webhook-timestamp"] and "+301 s off" in late[0].message


def test_a_delivery_carries_an_id_derived_from_its_bytes(standard: Contract,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver checks send a delivery again as the same message (the id "remains the same no matter how many
    times a webhook that has failed is retried": derived from the bytes, not drawn), and sign nothing without a
    secret."""
    monkeypatch.setattr(wire.catalog, "contract", lambda platform, name=None: standard)
    delivery = wire.Delivery("codewars", standard.name, "code_challenge.created", json.loads(CONTENT))
    first, again = delivery.wire_headers(SECRET), delivery.wire_headers(SECRET)
    assert first["webhook-id"].startswith("msg_") and first["webhook-id"] == again["webhook-id"]
    other = delivery._replace(body={"test": 1}).wire_headers(SECRET)
    assert other["webhook-id"] != first["webhook-id"]
    stamp = first["webhook-timestamp"]
    assert first["webhook-signature"] == auth.standard_signature(SECRET, first["webhook-id"], stamp,
                                                                 delivery.encoded())
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(delivery.wire_headers(None))

