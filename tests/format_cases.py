"""The format edge cases every validator is asked about: ``AGREED`` ones, where hookproof (the RFCs), ajv
(ajv-formats 3.0.1) and jsonschema-rs (0.61) give the same verdict, and ``RECORDED`` ones, where they
legitimately differ; docs/decisions.md#format-semantics lists each of these with its reason, and the values
hookproof generates avoid them.
"""

from __future__ import annotations

# (format, value, valid?)
AGREED: tuple[tuple[str, str, bool], ...] = (
    ("email", "a@example.com", True),
    ("email", "user+tag@example.com", True),
    ("email", "o'neil@example.com", True),
    ("email", "#!$%&*=?^`{|}~@example.com", True),
    ("email", "first.last@mail.example.co.uk", True),
    ("email", "a@xn--bcher-kva.de", True),
    ("email", "a@EXAMPLE.NET", True),
    ("email", "a@1.2", True),
    ("email", "josé@例え.jp", False),  # RFC 6531: idn-email, not email
    ("email", "ñandú.x_y@a-1.пример.рф", False),
    ("email", "a..b@example.com", False),
    ("email", ".a@example.com", False),
    ("email", "a.@example.com", False),
    ("email", "a@-x.example.com", False),
    ("email", "a@x_y.com", False),
    ("email", "a b@example.com", False),
    ("email", "no-at-sign", False),
    ("email", "", False),
    ("date-time", "2016-12-31T23:59:60Z", True),  # RFC 3339 5.7: a leap second
    ("date-time", "2016-12-31T22:59:60-01:00", True),  # the same second, at another offset
    ("date-time", "2016-12-31T23:59:60+01:00", False),  # 22:59:60 UTC
    ("date-time", "2016-12-31T12:59:60Z", False),
    ("date-time", "2016-12-31t23:59:59z", True),  # RFC 3339 5.6 NOTE: T and Z in either case
    ("date-time", "0000-01-01T00:00:00Z", True),  # date-fullyear is 4DIGIT
    ("date-time", "2000-02-29T00:00:00Z", True),
    ("date-time", "2017-02-29T00:00:00Z", False),
    ("date-time", "1900-02-29T00:00:00Z", False),
    ("date-time", "2017-10-07T10:41:31.123456789Z", True),
    ("date-time", "2017-10-07T10:41:31+23:59", True),
    ("date-time", "2017-10-07T10:41:31-00:00", True),
    ("date-time", "2017-10-07T10:41:31+24:00", False),
    ("date-time", "2017-10-07T10:41:31.Z", False),
    ("date-time", "2017-10-07T10:41Z", False),
    ("date-time", "2017-10-07T10:41:31", False),
    ("date-time", "2017-10-07T24:00:00Z", False),
    ("uri", "https://example.com", True),
    ("uri", "HTTP://X.COM", True),
    ("uri", "urn:isbn:0451450523", True),
    ("uri", "mailto:a@example.com", True),
    ("uri", "file:///etc/hosts", True),
    ("uri", "http://[::1]:8080/x", True),
    ("uri", "http://[v7.abc]/", True),
    ("uri", "http://a.com:65536/", True),  # port is *DIGIT
    ("uri", "https://example.com/%C3%BC?q=%20#frag", True),
    ("uri", "http://exa mple.com", False),
    ("uri", "https://example.com/ü", False),  # an IRI
    ("uri", "//example.com", False),  # a relative reference
    ("uri", "/relative/path", False),
    ("uri", "http://example.com/%zz", False),
    ("uri", "http://example.com/#a#b", False),
    ("uri", "http://a/b?c=[d]", False),
    ("uuid", "441cd01e-d82d-485c-95d8-c8c498417649", True),
    ("uuid", "441CD01E-D82D-485C-95D8-C8C498417649", True),
    ("uuid", "00000000-0000-0000-0000-000000000000", True),
    ("uuid", "441cd01e-d82d-985c-f5d8-c8c498417649", True),  # any variant and version: RFC 4122's grammar
    ("uuid", "441cd01ed82d485c95d8c8c498417649", False),
    ("uuid", "{441cd01e-d82d-485c-95d8-c8c498417649}", False),
    ("uuid", "441cd01e-d82d-485c-95d8-c8c49841764", False),
    ("uuid", "g41cd01e-d82d-485c-95d8-c8c498417649", False),
)

# (format, value, {validator: valid?}): hookproof follows the RFC; docs/decisions.md#format-semantics says why
RECORDED: tuple[tuple[str, str, dict[str, bool]], ...] = (
    ("email", "a@b", {"hookproof": True, "jsonschema-rs": True, "ajv": False}),
    ("email", '"a b"@example.com', {"hookproof": True, "jsonschema-rs": True, "ajv": False}),
    ("email", "a@[127.0.0.1]", {"hookproof": True, "jsonschema-rs": True, "ajv": False}),
    ("date-time", "2017-10-07 10:41:31Z", {"hookproof": False, "jsonschema-rs": False, "ajv": True}),
    ("date-time", "2017-10-07T10:41:31+0530", {"hookproof": False, "jsonschema-rs": False, "ajv": True}),
    ("uri", "a:", {"hookproof": True, "jsonschema-rs": True, "ajv": False}),
    ("uri", "http://user:p@ss@example.com/", {"hookproof": False, "jsonschema-rs": False, "ajv": True}),
    ("uri", "http://example.com:x/", {"hookproof": False, "jsonschema-rs": False, "ajv": True}),
    ("uuid", "urn:uuid:441cd01e-d82d-485c-95d8-c8c498417649",
     {"hookproof": False, "jsonschema-rs": False, "ajv": True}),
)
