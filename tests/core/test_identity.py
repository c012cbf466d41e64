import pytest

from core.identity import (
    SYSTEM_USER_ID,
    get_user_id_description,
    is_authenticated_user_id,
    is_system_user_id,
)


def test_system_user_id_is_minus_one() -> None:
    assert SYSTEM_USER_ID == -1


@pytest.mark.parametrize(
    ("user_id", "expected"), [(-1, True), (None, False), (42, False), (0, False)]
)
def test_is_system_user_id(user_id: int | None, expected: bool) -> None:
    assert is_system_user_id(user_id) is expected


@pytest.mark.parametrize(
    ("user_id", "expected"), [(42, True), (-1, False), (None, False), (0, False)]
)
def test_is_authenticated_user_id(user_id: int | None, expected: bool) -> None:
    assert is_authenticated_user_id(user_id) is expected


@pytest.mark.parametrize(
    ("user_id", "text"),
    [(42, "User 42"), (-1, "System/Automation"), (None, "Unknown/Unauthenticated")],
)
def test_get_user_id_description(user_id: int | None, text: str) -> None:
    assert get_user_id_description(user_id) == text


def test_unknown_is_never_system() -> None:
    assert not is_system_user_id(None)
    assert not is_authenticated_user_id(None)
