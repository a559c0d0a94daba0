"""The one masking path: a secret is masked in every form a peer or a log may show it - as given, as a WSGI
server's Latin-1 reading, percent-encoded, and in base64 (alone or inside a longer value such as a Basic
``Authorization`` credential) and hex."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from hookproof import redact

SECRET = "s3cret-Ünïcode-value"


@pytest.fixture(autouse=True)
def remembered() -> Iterator[None]:
    redact.forget_all()
    redact.remember(SECRET)
    yield
    redact.forget_all()


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["base64", "base64url"])
@pytest.mark.parametrize("before", ["", "u", "us", "user:", "a-longer-user-name:"])
@pytest.mark.parametrize("after", ["", "!", "?x"])
def test_the_base64_of_a_value_holding_the_secret_keeps_at_most_its_edges(encode, before: str, after: str) -> None:
    whole = encode((before + SECRET + after).encode("utf-8")).decode("ascii")
    shown = redact.text(f"Authorization: Basic {whole}").removeprefix("Authorization: Basic ")
    assert redact.MASK in shown, shown
    head, _, tail = shown.partition(redact.MASK)
    # Visible: the encoding of what came before the secret, plus at most one group (4 characters) at each end
    # that the secret shares with a neighbour; nothing of its middle.
    assert len(head) <= len(before) * 4 // 3 + 4 and len(tail) <= len(after) * 4 // 3 + 4 + 2, shown


def test_hex_in_either_case_and_percent_encoded_base64_are_masked() -> None:
    raw = SECRET.encode("utf-8")
    assert redact.text(f"key={raw.hex()} KEY={raw.hex().upper()}") == "key=*** KEY=***"
    padded = base64.b64encode(raw).decode("ascii")
    assert redact.text(f"?token={padded.replace('=', '%3D').replace('+', '%2B').replace('/', '%2F')}") == "?token=***"
    assert redact.data(f"x {padded} y".encode()) == b"x *** y"


def test_a_short_secret_does_not_mask_ordinary_text() -> None:
    redact.remember("abc")  # its base64, YWJj, is four letters any text may hold
    assert redact.text("YWJj and 616263 stay") == "YWJj and 616263 stay"
    assert redact.text("abc") == "***"
