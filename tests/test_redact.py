"""The one masking path: a secret is masked in every form a peer or a log may show it - as given, as a WSGI
server's Latin-1 reading, percent-encoded, JSON string-escaped, and inside base64 (alone or inside a longer
value such as a Basic ``Authorization`` credential) and hex, where the whole token is masked."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator

import pytest

from hookproof import redact

SECRET = "s3cret-Ünïcode-value"
SHORT = "k9Xq2z"  # 6 characters: every base64 piece of it is shorter than 8
SHORTEST = "q7Z"  # redact.MIN_LENGTH characters
ENCODERS: dict[str, Callable[[bytes], str]] = {
    "base64": lambda raw: base64.b64encode(raw).decode("ascii"),
    "base64url": lambda raw: base64.urlsafe_b64encode(raw).decode("ascii"),
    "base64-unpadded": lambda raw: base64.b64encode(raw).decode("ascii").rstrip("="),
    "base64url-unpadded": lambda raw: base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    "hex": lambda raw: raw.hex(),
    "HEX": lambda raw: raw.hex().upper(),
}
# Text a report or a capture holds every day: none of it decodes to a secret, so none of it may be masked.
ORDINARY = (
    'POST /hooks/codewars HTTP/1.1 {"action": "honor_changed", "user": {"id": "53aa3f265b97485984000001", '
    '"honor": 12, "created_at": "2024-05-01T12:34:56Z", "uuid": "550e8400-e29b-41d4-a716-446655440000"}} '
    "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 Authorization: Basic "
    "dXNlcjpwYXNzd29yZA== The quick brown fox jumps over the lazy dog; YWJk 616264 deadbeefcafe 1700000000 "
    "https://www.codewars.com/kata/5277c8a221e209d3f6000b56 Zo\\u00eb \\/path\\/to\\/thing a\\\"b\\\\c"
)


@pytest.fixture(autouse=True)
def remembered() -> Iterator[None]:
    redact.forget_all()
    redact.remember(SECRET)
    yield
    redact.forget_all()


@pytest.mark.parametrize("secret", [SECRET, SHORT, SHORTEST])
@pytest.mark.parametrize("encoding", ENCODERS)
@pytest.mark.parametrize("before", ["", "u", "us", "user:", "a-longer-user-name:"])
@pytest.mark.parametrize("after", ["", "!", "?x"])
def test_a_base64_or_hex_token_holding_the_secret_is_masked_whole(secret: str, encoding: str, before: str,
                                                                   after: str) -> None:
    """Whatever the alignment, and however short the secret: not one byte of it stays readable at the edges
    of the token (``Basic dXNlcjpT***NDI=`` decoded to ``user:S`` and ``42``)."""
    redact.remember(secret)
    whole = ENCODERS[encoding]((before + secret + after).encode("utf-8"))
    assert redact.text(f"Authorization: Basic {whole}") == "Authorization: Basic ***"
    assert redact.data(f'{{"basic": "{whole}", "n": 1}}'.encode()) == b'{"basic": "***", "n": 1}'


def test_a_short_secret_in_a_basic_credential_is_masked() -> None:
    """The tester's case: a 6-character secret, whose base64 pieces were all under 8 characters."""
    redact.remember(SHORT)
    assert redact.text("Basic dXNlcjprOVhxMno=") == "Basic ***"
    assert redact.text("Basic " + base64.b64encode(b"user:S3cretvalue42").decode()) != "Basic ***"  # not remembered
    redact.remember("S3cretvalue42")
    assert redact.text("Basic " + base64.b64encode(b"user:S3cretvalue42").decode()) == "Basic ***"


def test_the_hex_and_base64_of_a_three_character_secret_are_masked() -> None:
    redact.remember(SHORTEST)
    assert redact.text("hex 71375a, HEX 71375A, base64 cTda.") == "hex ***, HEX ***, base64 ***."
    # Inside a longer hex value, at an odd offset too, and after a prefix that is not hex.
    assert redact.text("0x0a71375aff id_71375a c71375a") == "0x*** id_*** ***"


@pytest.mark.parametrize("secret", [SECRET, SHORT, SHORTEST])
def test_base64_passed_on_percent_encoded_or_json_escaped_is_masked(secret: str) -> None:
    redact.remember(secret)
    raw = b"\xfb\xef\xbe\xff\xff\xff" + secret.encode("utf-8")  # a value whose base64 holds + and /: ++++////
    padded = base64.b64encode(raw).decode("ascii")
    assert "/" in padded and "+" in padded
    percent = padded.replace("=", "%3D").replace("+", "%2B").replace("/", "%2F")
    assert redact.text(f"?token={percent}&x=1") == "?token=***&x=1"
    lower = padded.replace("=", "%3d").replace("+", "%2b").replace("/", "%2f")
    assert redact.text(f"?token={lower}") == "?token=***"
    escaped = json.dumps({"basic": padded}).replace("/", "\\/")  # PHP's json_encode
    assert redact.text(escaped) == '{"basic": "***"}'
    assert redact.data(escaped.encode()) == b'{"basic": "***"}'


def test_hex_in_either_case_and_base64_alone_are_masked() -> None:
    raw = SECRET.encode("utf-8")
    assert redact.text(f"key={raw.hex()} KEY={raw.hex().upper()}") == "key=*** KEY=***"
    padded = base64.b64encode(raw).decode("ascii")
    assert redact.data(f"x {padded} y".encode()) == b"x *** y"
    # The bytes a WSGI server's Latin-1 reading gives back, and a peer that wrote the secret in Latin-1.
    assert redact.text(base64.b64encode(SECRET.encode("utf-8").decode("latin-1").encode("utf-8")).decode()) == "***"
    assert redact.text(SECRET.encode("latin-1").hex()) == "***"


@pytest.mark.parametrize("secret", [SHORTEST, SHORT, SECRET])
def test_ordinary_text_is_not_masked(secret: str) -> None:
    """Text is masked only where it decodes to a secret: words, ids, hashes, dates and other credentials stay."""
    redact.remember(secret)
    assert redact.text(ORDINARY) == ORDINARY
    assert redact.data(ORDINARY.encode()) == ORDINARY.encode()
    assert redact.data(ORDINARY.encode() * 400) == ORDINARY.encode() * 400  # past the 4 KiB pieces of a scan


def test_a_short_secret_is_masked_in_its_encodings_and_nothing_else() -> None:
    redact.remember("abc")
    assert redact.text("YWJj and 616263 go; YWJk and 616264 stay") == "*** and *** go; YWJk and 616264 stay"
    assert redact.text("abc") == "***"


def test_a_long_body_is_masked_wherever_the_secret_is() -> None:
    """A 1 MiB body is scanned in 4 KiB pieces: a token across the cut between two of them is masked whole."""
    redact.remember(SHORT)
    token = base64.b64encode(b"user:" + SHORT.encode()).decode()
    filler = json.dumps({"id": "550e8400-e29b-41d4-a716-446655440000", "note": "nothing to see"}) + ", "
    for at in (0, 4090, 4096, 100_000, 1024 * 1024):
        body = (filler * (1024 * 1024 // len(filler) + 1))[:at] + " " + token + " " + filler
        masked = redact.data(body.encode())
        assert token.encode() not in masked and masked.count(b"***") == 1, at
        assert masked.replace(b"***", token.encode()) == body.encode()


def test_masking_a_token_leaves_json_valid() -> None:
    """A token that ends in a backslash escaping the string's closing quote keeps that backslash."""
    redact.remember(SHORT)
    token = base64.b64encode(b"user:" + SHORT.encode()).decode().rstrip("=")
    for value in (token + "\\", token + '"', token + "\\n", "line\n" + token, token + "\\\\\"x"):
        document = json.dumps({"a": value, "b": 1})
        masked = redact.text(document)
        assert token not in masked and json.loads(masked)["b"] == 1, masked


JSON_SECRETS = ["Ab/Cd+Ef/Gh12", 'a"b\\c-secret', "tök€n-secret", "p<a>s&s'=w+o`rd", "emoji-😀-secret"]


@pytest.mark.parametrize("secret", JSON_SECRETS)
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("slashes", [False, True], ids=["as-is", "escaped-slashes"])
@pytest.mark.parametrize("reading", ["utf-8", "latin-1"])
def test_a_json_escaped_secret_is_masked(secret: str, ensure_ascii: bool, slashes: bool, reading: str) -> None:
    """As Python (``ensure_ascii`` or not), PHP (``\\/``) and others escape it in an answer or a body; and its
    Latin-1 reading (``t\\u00c3\\u00b6k...``) escaped the same way."""
    redact.remember(secret)
    value = secret if reading == "utf-8" else secret.encode("utf-8").decode("latin-1")
    document = json.dumps({"token": value, "n": 1}, ensure_ascii=ensure_ascii)
    if slashes:
        document = document.replace("/", "\\/")
    assert redact.text(document) == '{"token": "***", "n": 1}', document
    assert redact.data(document.encode("utf-8")) == b'{"token": "***", "n": 1}', document


@pytest.mark.parametrize(("secret", "written"), [
    ("tök€n-secret", "t\\u00F6k\\u20ACn-secret"),  # Jackson: upper-case hex
    ("p<a>s&s'=w+o`rd", "p\\u003ca\\u003es\\u0026s\\u0027\\u003dw\\u002bo\\u0060rd"),  # Go, .NET, Gson: HTML-safe
    ("tök€n-secret", "tö\\u006b€n-secret"),  # an encoder that escapes only some: a letter is never escaped
    ('a"b\\c-secret', "a\\u0022b\\u005cc-secret"),
])
def test_other_encoders_escapes_are_masked_or_left(secret: str, written: str) -> None:
    redact.remember(secret)
    masked = redact.text(f'{{"token": "{written}"}}')
    assert (masked == '{"token": "***"}') == ("u006b" not in written), masked


def test_json_escapes_of_other_text_are_left() -> None:
    redact.remember("tök€n-secret", "Ab/Cd+Ef/Gh12")
    text = '{"name": "Zo\\u00eb t\\u00f6k\\u20acn", "url": "https:\\/\\/example.com\\/Ab\\/Cd"}'
    assert redact.text(text) == text and redact.data(text.encode()) == text.encode()


def test_nothing_is_scanned_when_no_secret_is_known() -> None:
    redact.forget_all()
    body = ORDINARY.encode() * 100
    assert redact.data(body) is body and redact.text(ORDINARY) is ORDINARY
    assert redact.text("Basic cTda", "q7Z") == "Basic ***"  # an extra secret of one call: scanned for too
    assert redact.text("Basic cTda") == "Basic cTda"  # and not remembered


def test_known_lists_the_forms_replaced_as_they_are() -> None:
    """``known`` (a header that is the secret itself is replayed as ``$HOOKPROOF_SECRET``) holds the secret,
    its Latin-1 reading and their percent-encodings - not an encoding of it."""
    forms = redact.known()
    assert SECRET in forms and SECRET.encode("utf-8").decode("latin-1") in forms
    assert base64.b64encode(SECRET.encode("utf-8")).decode() not in forms
    assert forms == sorted(forms, key=len, reverse=True)


def test_a_parsed_json_value_is_masked_and_stays_json() -> None:
    """What --json prints must parse: a secret spelled as a number becomes the string ***, not a bare *** in the
    JSON text (trigger --json masked the text, then parsed it, and failed on such a body)."""
    import json

    redact.remember("4242424242")
    value = {"amount": 4242424242, "nested": [{"token": f"x{SECRET}y", SECRET: True}], "n": 7, "f": 1.5, "b": False}
    masked = redact.json_value(value)
    assert masked == {"amount": "***", "nested": [{"token": "x***y", "***": True}], "n": 7, "f": 1.5, "b": False}
    assert json.loads(json.dumps(masked)) == masked


def test_base64_whose_symbols_a_json_encoder_escaped_is_masked() -> None:
    """System.Text.Json writes base64's +, / and = as \\u002B, \\u002F, \\u003D by default."""
    import json

    secret = "whsec_~~>>??secretvalue"  # its Basic credential's base64 holds + and =
    redact.remember(secret)
    token = base64.b64encode(f"user:{secret}".encode()).decode()
    assert "+" in token and "=" in token
    for plus, equals in (("\\u002B", "\\u003D"), ("\\u002b", "\\u003d")):  # hex digits in either case
        escaped = token.replace("+", plus).replace("=", equals)
        assert redact.text(json.dumps({"auth": "Basic X"}).replace("X", escaped)) == '{"auth": "Basic ***"}'


def test_lower_case_percent_encoding_is_masked() -> None:
    """RFC 3986 percent-encoding is case-blind (section 2.1): %c3%a4 spells what %C3%A4 does."""
    redact.remember("pässwörd")
    assert redact.text("?k=p%c3%a4ssw%c3%b6rd&l=p%C3%A4ssw%C3%B6rd") == "?k=***&l=***"
    from urllib.parse import quote

    latin1_reading = quote("pässwörd".encode().decode("latin-1"), safe="").lower()
    assert redact.text(latin1_reading) == "***"


def test_hex_after_a_json_escape_is_masked_and_the_json_stays_json() -> None:
    """The digits of a \\u00e9 escape just before the secret's hex are kept, the rest of the run masked (masking
    the whole run left "\\u***", and a capture of a conforming delivery was stored as invalid JSON)."""
    import json

    text = json.dumps({"m": "é" + SECRET.encode().hex() + "00"})
    masked = redact.text(text)
    assert json.loads(masked) == {"m": "é***"}, masked
    assert json.loads(redact.data(text.encode())) == {"m": "é***"}
