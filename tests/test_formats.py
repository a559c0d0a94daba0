"""hookproof.formats beyond the cross-validator table: the RFC limits and corners a regex alone gets wrong."""

from __future__ import annotations

import pytest

from hookproof.formats import CHECKS, FORMAT_CHECKER


@pytest.mark.parametrize(("fmt", "value", "valid"), [
    ("email", "a" * 64 + "@example.com", True),  # RFC 5321 4.5.3.1.1: 64 octets of local part
    ("email", "a" * 65 + "@example.com", False),
    ("email", "a@" + ".".join(["b" * 63] * 4)[:255], True),  # 4.5.3.1.2: 255 octets of domain
    ("email", "a@" + ".".join(["b" * 63] * 5), False),
    ("email", "a@[IPv6:2001:db8::1]", True),  # 4.1.3 address literals
    ("email", "a@[IPv6:2001:db8::g]", False),
    ("email", "a@[256.0.0.1]", False),
    ("email", "a@[x-tag:some-content]", True),  # General-address-literal
    ("email", '"quoted \\" pair"@example.com', True),
    ("email", '"unterminated@example.com', False),
    ("email", "a@example.com\n", False),  # no line break slips past an anchored regex
    ("date-time", "2016-12-31T23:59:59Z\n", False),
    ("date-time", "２０１６-12-31T23:59:59Z", False),  # Unicode digits are not DIGIT
    ("date-time", "2016-12-31T23:59:60.999Z", True),
    ("date-time", "2016-06-30T23:59:60Z", True),
    ("date-time", "2016-13-01T00:00:00Z", False),
    ("date-time", "2016-04-31T00:00:00Z", False),
    ("date-time", "2016-12-31T23:59:59+00:60", False),
    ("uri", "https://example.com/\n", False),
    ("uri", "https://例え.jp/", False),  # an IRI
    ("uri", "https://xn--r8jz45g.jp/", True),
    ("uuid", "441cd01e-d82d-485c-95d8-c8c498417649\n", False),
    ("uuid", "４41cd01e-d82d-485c-95d8-c8c498417649", False),
])
def test_rfc_corners(fmt: str, value: str, valid: bool) -> None:
    assert CHECKS[fmt](value) is valid
    assert FORMAT_CHECKER.conforms(value, fmt) is valid


def test_non_strings_pass_as_every_format_assertion_does() -> None:
    """JSON Schema 2020-12 Validation 7.1: a format applies to strings only; the type keyword judges the rest."""
    for fmt in CHECKS:
        assert FORMAT_CHECKER.conforms(42, fmt) and FORMAT_CHECKER.conforms(None, fmt)


def test_other_formats_keep_jsonschemas_checks() -> None:
    assert FORMAT_CHECKER.conforms("192.0.2.1", "ipv4") and not FORMAT_CHECKER.conforms("300.0.0.1", "ipv4")


def test_the_uri_grammar_is_imported_at_the_first_uri() -> None:
    """rfc3986-validator compiles its grammar's regexes at import (10 ms): every process that imports the format
    checks paid it, ``hookproof validate`` of a body without a URI among them."""
    import subprocess
    import sys

    code = ("import sys\nfrom hookproof.formats import is_uri\nprint('rfc3986_validator' in sys.modules)\n"
            "print(is_uri('https://example.test/a?b=c'), not is_uri('no scheme'), 'rfc3986_validator' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True", "True", "True"], done.stdout + done.stderr
