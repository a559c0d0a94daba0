"""What the four formats hookproof's schemas use mean, as the RFCs JSON Schema 2020-12 names for them say
(JSON Schema Validation 2020-12, section 7.3 "Defined Formats" <https://json-schema.org/draft/2020-12/json-schema-validation#section-7.3>).

- ``email``: an RFC 5321 ``Mailbox`` (RFC 5321 section 4.1.2 <https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2>):
  a dot-string or quoted-string local part of at most 64 octets, and a domain of LDH labels (at most 255
  octets) or an address literal. ASCII only: the internationalized form is ``idn-email`` (RFC 6531).
- ``date-time``: RFC 3339 section 5.6 ``date-time`` <https://www.rfc-editor.org/rfc/rfc3339#section-5.6>, with
  ``T`` and ``Z`` in either case (its NOTE), real calendar days (section 5.7) and the leap second ``:60``
  only at 23:59 UTC (section 5.7, offsets applied).
- ``uri``: RFC 3986 ``URI`` (section 3, <https://www.rfc-editor.org/rfc/rfc3986#section-3>, grammar of
  Appendix A): a scheme, and nothing outside its ASCII grammar.
- ``uuid``: the RFC 4122 string representation (section 3, <https://www.rfc-editor.org/rfc/rfc4122#section-3>):
  32 hex digits in groups of 8-4-4-4-12, either case, with no ``urn:uuid:`` prefix and no braces.

Where mainstream validators read these differently (ajv-formats, jsonschema-rs), the differences are recorded in
docs/decisions.md#format-semantics, and the values the suite generates avoid them. Both validation engines
(jsonschema's, and any other) take their format checking from here: :data:`FORMAT_CHECKER` for jsonschema,
:data:`CHECKS` as plain functions.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# -- email: RFC 5321 section 4.1.2 (Mailbox, Local-part, Dot-string, Quoted-string) and 4.1.3 (address literals)
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_LDH_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"{_LDH_LABEL}(?:\.{_LDH_LABEL})*"
_MAILBOX = re.compile(rf"(?P<local>{_DOT_STRING}|{_QUOTED_STRING})@(?P<domain>{_DOMAIN}|\[(?P<literal>[^\[\]]*)\])",
                      re.ASCII)
_IPV4_LITERAL = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", re.ASCII)
_GENERAL_LITERAL = re.compile(rf"{_LDH_LABEL}:[\x21-\x5a\x5e-\x7e]+", re.ASCII)
MAX_LOCAL_OCTETS = 64  # RFC 5321 section 4.5.3.1.1
MAX_DOMAIN_OCTETS = 255  # RFC 5321 section 4.5.3.1.2


def _address_literal(text: str) -> bool:
    if _IPV4_LITERAL.fullmatch(text):
        return all(int(part) <= 255 for part in text.split("."))
    if text[:5].lower() == "ipv6:":
        try:
            ipaddress.IPv6Address(text[5:])
        except ValueError:
            return False
        return text[5:].isascii()
    return bool(_GENERAL_LITERAL.fullmatch(text)) and not text.lower().startswith("ipv6:")


def is_email(value: str) -> bool:
    match = _MAILBOX.fullmatch(value)
    if match is None or len(match["local"]) > MAX_LOCAL_OCTETS:
        return False
    if match["literal"] is not None:
        return _address_literal(match["literal"])
    return len(match["domain"]) <= MAX_DOMAIN_OCTETS


# -- date-time: RFC 3339 section 5.6 (grammar), 5.7 (day of month, leap seconds)
_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))", re.ASCII)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)  # RFC 3339 Appendix C


def is_date_time(value: str) -> bool:
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    off_hour, off_minute = int(match["off_hour"] or 0), int(match["off_minute"] or 0)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] + (month == 2 and _leap_year(year)):
        return False
    if hour > 23 or minute > 59 or second > 60 or off_hour > 23 or off_minute > 59:
        return False
    if second == 60:  # a leap second is the last second of a UTC day: 23:59:60Z, whatever the offset
        sign = -1 if match["sign"] == "-" else 1
        utc_minutes = (hour * 60 + minute - sign * (off_hour * 60 + off_minute)) % (24 * 60)
        return utc_minutes == 23 * 60 + 59
    return True


# -- uri: RFC 3986 Appendix A, URI (scheme ":" hier-part [ "?" query ] [ "#" fragment ])
def is_uri(value: str) -> bool:
    # The validator's grammar is RFC 3986's; a value that is not ASCII, or ends in a line break its regex
    # tolerates, is not a URI (non-ASCII makes it an IRI, format ``iri``).
    return value.isascii() and value == value.strip("\r\n") and _rfc3986()(value, rule="URI") is not None


@functools.cache
def _rfc3986() -> Callable[..., Any]:
    """rfc3986-validator's check, imported at the first URI: its grammar's regexes take 10 ms to compile, which
    every process that imported this module paid (``hookproof validate`` of a body without a URI among them)."""
    from rfc3986_validator import validate_rfc3986

    return validate_rfc3986


# -- uuid: RFC 4122 section 3, the string representation
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}", re.ASCII)


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


CHECKS: dict[str, Callable[[str], bool]] = {
    "email": is_email,
    "date-time": is_date_time,
    "uri": is_uri,
    "uuid": is_uuid,
}


if TYPE_CHECKING:
    from jsonschema import FormatChecker

    FORMAT_CHECKER: FormatChecker


def _checker() -> FormatChecker:
    """jsonschema's 2020-12 checker, with the four formats above as the RFCs define them; a format named in a
    schema of your own keeps jsonschema's check. Like every format assertion, a non-string passes."""
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    for name, func in CHECKS.items():
        checker.checks(name)(lambda value, func=func: not isinstance(value, str) or func(value))
    return checker


def __getattr__(name: str) -> Any:
    """:data:`FORMAT_CHECKER`, made on first use: it imports jsonschema, which judging a valid delivery by
    :data:`CHECKS` (jsonschema-rs calls them) does not need."""
    if name == "FORMAT_CHECKER":
        globals()[name] = checker = _checker()
        return checker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
