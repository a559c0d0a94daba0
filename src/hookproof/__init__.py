"""hookproof: contract tests and conformance checks for the webhooks of coding-assessment platforms.

The public API, importable from here::

    import hookproof
    verdict = hookproof.validate("codewars", body, {"X-Webhook-Event": "user"})
    hookproof.contract("doselect").retry.max_tries            # 5

Platform knowledge lives in data (``hookproof.schemas``: one folder per platform); the core modules read it
(:mod:`hookproof.catalog`, :mod:`hookproof.validation`, :mod:`hookproof.wire`, :mod:`hookproof.auth`), the
checks judge implementations against it (:mod:`hookproof.conformance`), and the reference implementations
show what passes (:mod:`hookproof.reference_impl`). Names are imported on first use, so that a command which
needs one piece (the reference sender, ``hookproof validate``) does not pay for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    # the contract model and catalog
    "Platform": "hookproof.contract", "Contract": "hookproof.contract", "Event": "hookproof.contract",
    "RetryPolicy": "hookproof.contract", "Citation": "hookproof.contract", "CatalogError": "hookproof.contract",
    "ProfileError": "hookproof.contract",
    "platforms": "hookproof.catalog", "platform": "hookproof.catalog", "contract": "hookproof.catalog",
    "configure": "hookproof.catalog",
    # validating a delivery
    "validate": "hookproof.validation", "Verdict": "hookproof.validation", "Problem": "hookproof.validation",
    "Delivery": "hookproof.wire", "delivery_for": "hookproof.wire",
    # generating deliveries and judging implementations
    "strategies": "hookproof.conformance.strategies",
    "CHECKS": "hookproof.conformance.registry", "Check": "hookproof.conformance.registry",
    "CheckFailure": "hookproof.conformance.report",
    # the reference implementations
    "Sender": "hookproof.reference_impl.sender", "AsyncSender": "hookproof.reference_impl.sender",
    "Receiver": "hookproof.reference_impl.receiver", "RegistrationApp": "hookproof.reference_impl.registration",
}

__all__ = [
    "CHECKS",
    "AsyncSender",
    "CatalogError",
    "Check",
    "CheckFailure",
    "Citation",
    "Contract",
    "Delivery",
    "Event",
    "Platform",
    "Problem",
    "ProfileError",
    "Receiver",
    "RegistrationApp",
    "RetryPolicy",
    "Sender",
    "Verdict",
    "configure",
    "contract",
    "delivery_for",
    "platform",
    "platforms",
    "strategies",
    "validate",
]

if TYPE_CHECKING:
    from hookproof.catalog import configure, contract, platform, platforms
    from hookproof.conformance import strategies
    from hookproof.conformance.registry import CHECKS, Check
    from hookproof.conformance.report import CheckFailure
    from hookproof.contract import CatalogError, Citation, Contract, Event, Platform, ProfileError, RetryPolicy
    from hookproof.reference_impl.receiver import Receiver
    from hookproof.reference_impl.registration import RegistrationApp
    from hookproof.reference_impl.sender import AsyncSender, Sender
    from hookproof.validation import Problem, Verdict, validate
    from hookproof.wire import Delivery, delivery_for


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hookproof' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == module.__name__.rsplit(".", 1)[-1] else getattr(module, name)
    globals()[name] = value
    return value
