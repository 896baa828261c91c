"""ApiKey parsing and secret redaction."""

from __future__ import annotations

import pickle

import pytest
from pydantic import SecretStr

from bridge.http.keys import KEY_FORMAT, ApiKey
from bridge.redaction import redact

PREFIX = "sh_0123456789abcdef01"
SECRET = "f" * 8 + "0123456789abcdef" * 3 + "a" * 8
RAW = f"{PREFIX}_{SECRET}"


class TestParse:
    def test_accepts_a_well_formed_key(self) -> None:
        """A key of the documented format parses and exposes its prefix."""
        key = ApiKey.parse(RAW)
        assert key.prefix == PREFIX

    def test_accepts_a_secretstr(self) -> None:
        """Settings hand the key over as SecretStr; it parses the same."""
        assert ApiKey.parse(SecretStr(RAW)) == ApiKey.parse(RAW)

    def test_authorization_is_the_bearer_header(self) -> None:
        """The header value is the only place the secret appears."""
        assert ApiKey.parse(RAW).authorization == f"Bearer {RAW}"

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "sh_0123",
            RAW.upper(),
            RAW + "0",
            RAW[:-1],
            "xx" + RAW[2:],
            f"{PREFIX}-{SECRET}",
            f"{PREFIX}_{SECRET[:-1]}g",
        ],
    )
    def test_rejects_malformed_keys_naming_the_format(self, raw: str) -> None:
        """A malformed key raises ValueError that names the expected format."""
        with pytest.raises(ValueError, match="sh_<18 hex>_<64 hex>") as info:
            ApiKey.parse(raw)
        assert KEY_FORMAT in str(info.value)

    def test_error_never_echoes_the_input(self) -> None:
        """A near-miss key is mostly secret: the error must not contain it."""
        near_miss = f"{PREFIX}_{SECRET}Z"
        with pytest.raises(ValueError) as info:
            ApiKey.parse(near_miss)
        assert SECRET not in str(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None


class TestReprs:
    def test_repr_shows_only_the_prefix(self) -> None:
        """repr matches the documented shape."""
        assert repr(ApiKey.parse(RAW)) == f"ApiKey('{PREFIX}')"

    def test_str_masks_the_secret(self) -> None:
        """str shows prefix plus a mask."""
        assert str(ApiKey.parse(RAW)) == f"{PREFIX}_***"

    def test_cannot_be_pickled(self) -> None:
        """Pickling would write the secret somewhere; refuse."""
        with pytest.raises(TypeError):
            pickle.dumps(ApiKey.parse(RAW))


class TestRedact:
    def test_redacts_a_full_key_keeping_the_prefix(self) -> None:
        """Embedded keys become prefix + _***."""
        assert redact(f"Authorization: Bearer {RAW} sent") == (
            f"Authorization: Bearer {PREFIX}_*** sent"
        )

    def test_redacts_a_bare_secret(self) -> None:
        """A 64-hex run on its own is treated as a secret."""
        assert redact(f"secret={SECRET}!") == "secret=***!"

    def test_leaves_short_hex_alone(self) -> None:
        """Request ids and hashes shorter than 64 hex survive."""
        text = "request 7f9d4b6a-4f0a-4a8c-9c2e-d5b3b8e6a0f1 hash a1b2c3"
        assert redact(text) == text

    def test_redacts_every_occurrence(self) -> None:
        """Two keys, two masks."""
        assert SECRET not in redact(f"{RAW} and {RAW} and {SECRET.upper()}")
        assert SECRET.upper() not in redact(f"{SECRET.upper()}")
