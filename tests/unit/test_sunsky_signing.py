"""SUNSKY's signature algorithm against the documented vector (reference section 2)."""

from __future__ import annotations

import hashlib

from shared.sunsky.signing import clean_params, sign, signed_params, verify

DOC_PARAMS = {"name": "John Smith", "age": "19", "gendar": "mail"}
DOC_SIGNATURE = "c908e6a13552aab42ce5f71adf78e21b"


def test_documented_vector() -> None:
    signed = signed_params(DOC_PARAMS, "MYKEY", "MYSECRET")

    assert signed["signature"] == DOC_SIGNATURE
    assert signed["key"] == "MYKEY"
    assert "MYSECRET" not in signed.values()


def test_documented_vector_spelled_out() -> None:
    concatenated = "19mailMYKEYJohn Smith@MYSECRET"  # age, gendar, key, name

    assert hashlib.md5(concatenated.encode()).hexdigest() == DOC_SIGNATURE


def test_names_sort_as_plain_strings_not_naturally() -> None:
    params = {"key": "K", "items.2.qty": "2", "items.10.qty": "10", "items.1.qty": "1"}

    # items.1 < items.10 < items.2 < key
    expected = hashlib.md5(b"1102K@S").hexdigest()
    assert sign(params, "S") == expected


def test_empty_and_none_values_are_dropped_before_signing_and_sending() -> None:
    with_blanks = signed_params({**DOC_PARAMS, "state": "", "coupon": None}, "MYKEY", "MYSECRET")

    assert with_blanks["signature"] == DOC_SIGNATURE
    assert "state" not in with_blanks and "coupon" not in with_blanks


def test_values_render_as_sunsky_strings() -> None:
    assert clean_params({"useBalanceOnly": True, "x": False, "countryId": 41}) == {
        "useBalanceOnly": "true",
        "x": "false",
        "countryId": "41",
    }


def test_verify_accepts_own_signature_and_rejects_tampering() -> None:
    signed = signed_params(DOC_PARAMS, "MYKEY", "MYSECRET")

    assert verify(signed, "MYSECRET")
    assert not verify({**signed, "age": "20"}, "MYSECRET")
    assert not verify(signed, "OTHER")
