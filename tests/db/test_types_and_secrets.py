"""UTCDateTime conversion rules and SecretBox behaviour, without a database."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from db.secrets import SecretBox, SecretDecryptionError, SecretKeyError
from db.types import NaiveDatetimeError, UTCDateTime

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_utc_datetime_rejects_naive(dialect: object) -> None:
    with pytest.raises(NaiveDatetimeError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2030, 1, 1), dialect)  # type: ignore[arg-type]


def test_utc_datetime_binds_utc() -> None:
    value = datetime(2030, 1, 1, 12, 0, tzinfo=PLUS_TWO)
    stored_sqlite = UTCDateTime().process_bind_param(value, sqlite.dialect())
    stored_pg = UTCDateTime().process_bind_param(value, postgresql.dialect())
    assert stored_sqlite == datetime(2030, 1, 1, 10, 0)
    assert stored_sqlite is not None and stored_sqlite.tzinfo is None
    assert stored_pg == value and stored_pg is not None and stored_pg.tzinfo is UTC


def test_utc_datetime_reads_aware_utc() -> None:
    from_sqlite = UTCDateTime().process_result_value(datetime(2030, 1, 1, 10), sqlite.dialect())
    from_pg = UTCDateTime().process_result_value(
        datetime(2030, 1, 1, 12, tzinfo=PLUS_TWO), postgresql.dialect()
    )
    assert from_sqlite == from_pg == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert from_sqlite is not None and from_sqlite.tzinfo is UTC
    assert from_pg is not None and from_pg.tzinfo is UTC


def test_secret_box_round_trip() -> None:
    box = SecretBox(SecretBox.generate_key())
    ciphertext = box.encrypt("hunter2-client-secret")
    assert b"hunter2" not in ciphertext
    assert box.decrypt(ciphertext) == "hunter2-client-secret"
    # A fresh IV per call: equal secrets do not give equal ciphertexts.
    assert box.encrypt("hunter2-client-secret") != ciphertext


def test_secret_box_wrong_key_error_does_not_leak() -> None:
    ciphertext = SecretBox(SecretBox.generate_key()).encrypt("s3cret-token")
    other = SecretBox(SecretBox.generate_key(), setting="security.secret_key")
    with pytest.raises(SecretDecryptionError) as excinfo:
        other.decrypt(ciphertext)
    assert "s3cret-token" not in str(excinfo.value)
    assert "security.secret_key" in str(excinfo.value)
    assert "security.old_secret_keys" in str(excinfo.value)


def test_secret_box_invalid_key_error_names_setting_not_value() -> None:
    with pytest.raises(SecretKeyError) as excinfo:
        SecretBox("not-a-real-key-value", setting="security.secret_key")
    assert "security.secret_key" in str(excinfo.value)
    assert "not-a-real-key-value" not in str(excinfo.value)


def test_secret_box_accepts_secret_str() -> None:
    from pydantic import SecretStr

    key = SecretBox.generate_key()
    assert SecretBox(SecretStr(key)).decrypt(SecretBox(key).encrypt("x")) == "x"


def test_secret_box_repr_hides_key() -> None:
    key = SecretBox.generate_key()
    box = SecretBox(key)
    assert key not in repr(box)
    assert key not in str(box)


def test_secret_box_rejects_wrong_types() -> None:
    box = SecretBox(SecretBox.generate_key())
    with pytest.raises(TypeError):
        box.encrypt(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        box.decrypt("text")  # type: ignore[arg-type]


def test_secret_box_decrypts_with_old_keys_and_encrypts_with_the_current_one() -> None:
    old, older, new = (SecretBox.generate_key() for _ in range(3))
    from_old = SecretBox(old).encrypt("old-secret")
    from_older = SecretBox(older).encrypt("older-secret")
    box = SecretBox(new, old_keys=[old, older])
    assert box.decrypt(from_old) == "old-secret"
    assert box.decrypt(from_older) == "older-secret"
    fresh = box.encrypt("new-secret")
    assert SecretBox(new).decrypt(fresh) == "new-secret"
    with pytest.raises(SecretDecryptionError):
        SecretBox(old).decrypt(fresh)


def test_secret_box_reencrypts_under_the_current_key() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    ciphertext = SecretBox(old).encrypt("client-secret")
    rotated = SecretBox(new, old_keys=[old]).reencrypt(ciphertext)
    assert SecretBox(new).decrypt(rotated) == "client-secret"
    assert SecretBox(new).can_decrypt(rotated) and not SecretBox(new).can_decrypt(ciphertext)
    stranger = SecretBox(SecretBox.generate_key()).encrypt("unknown")
    with pytest.raises(SecretDecryptionError):
        SecretBox(new, old_keys=[old]).reencrypt(stranger)


def test_secret_box_invalid_old_key_names_its_position_not_its_value() -> None:
    from pydantic import SecretStr

    good = SecretBox.generate_key()
    with pytest.raises(SecretKeyError) as excinfo:
        SecretBox(good, old_keys=[SecretStr(good), SecretStr("not-a-real-old-key")])
    message = str(excinfo.value)
    assert "security.old_secret_keys[1]" in message
    assert "not-a-real-old-key" not in message and good not in message
