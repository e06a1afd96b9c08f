"""SUNSKY's request signature, exactly as documented (sunsky-open-api.md section 2).

signature = lowercase hex MD5 of the values of every parameter except ``signature``
(``key`` included), sorted by parameter *name* in plain string order and concatenated
without separators, followed by ``@`` and the secret. Empty values add nothing and are
dropped before signing and sending. The secret is never sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def clean_params(params: Mapping[str, object]) -> dict[str, str]:
    """Drop ``None``/empty values and render the rest as SUNSKY strings."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        text = _render(value)
        if text != "":
            out[name] = text
    return out


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sign(params: Mapping[str, str], secret: str) -> str:
    """Signature over ``params`` (which must already contain ``key``)."""
    values = "".join(params[name] for name in sorted(params) if name != "signature")
    return hashlib.md5(f"{values}@{secret}".encode()).hexdigest()  # MD5: SUNSKY's protocol


def signed_params(params: Mapping[str, object], key: str, secret: str) -> dict[str, str]:
    """``params`` cleaned, with ``key`` and ``signature`` added: ready to send."""
    out = clean_params(params)
    out["key"] = key
    out["signature"] = sign(out, secret)
    return out


def verify(params: Mapping[str, str], secret: str) -> bool:
    """True when ``params['signature']`` matches; used by the sandbox."""
    given = params.get("signature", "")
    expected = sign(clean_params({k: v for k, v in params.items() if k != "signature"}), secret)
    return bool(given) and given == expected
