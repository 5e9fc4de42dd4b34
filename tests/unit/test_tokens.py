"""Signed identity tokens (``hubbub.chat.tokens.TokenIssuer``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from hubbub.chat.tokens import TokenIssuer, verify_unsubscribe
from hubbub.handlers.bootstrap import build_chat
from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User
from tests.unit.fakes import FUTURE_MS, SECRET

TTL_S = 3600
VISITOR = User(UserId("v_0123456789abcdef"), Role.VISITOR, "Vera")
OPERATOR = User(UserId("o_1"), Role.OPERATOR, "Olga")


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(SECRET, TTL_S)


def claims(**overrides: Any) -> dict[str, Any]:
    now = FUTURE_MS // 1000
    base: dict[str, Any] = {
        "iss": "hubbub",
        "sub": VISITOR.id,
        "role": "visitor",
        "nick": "Vera",
        "iat": now,
        "exp": now + TTL_S,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def refused(issuer: TokenIssuer, token: str, now_ms: int = FUTURE_MS) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        issuer.verify(token, now_ms)
    assert caught.value.code is ErrorCode.UNAUTHORIZED
    return caught.value


@pytest.mark.parametrize("user", [VISITOR, OPERATOR, User(UserId("v_2"), Role.VISITOR, None)])
def test_an_issued_token_verifies_to_the_same_user(issuer: TokenIssuer, user: User) -> None:
    """A token issued for a user verifies, within its lifetime, to that very user."""
    token = issuer.issue(user, FUTURE_MS)
    assert issuer.verify(token, FUTURE_MS + 1000) == user


def test_a_token_is_valid_until_just_before_its_expiry(issuer: TokenIssuer) -> None:
    """A token verifies one second before its expiry and is refused at it."""
    token = issuer.issue(VISITOR, FUTURE_MS)
    assert issuer.verify(token, FUTURE_MS + (TTL_S - 1) * 1000) == VISITOR
    error = refused(issuer, token, FUTURE_MS + TTL_S * 1000)
    assert "expired" in error.message


def test_an_explicit_lifetime_replaces_the_default(issuer: TokenIssuer) -> None:
    """issue(ttl_s=...) gives that token its own lifetime."""
    token = issuer.issue(OPERATOR, FUTURE_MS, ttl_s=10)
    assert issuer.verify(token, FUTURE_MS + 9_000) == OPERATOR
    refused(issuer, token, FUTURE_MS + 10_000)


def test_expiry_is_judged_by_the_clock_given_not_the_wall_clock(issuer: TokenIssuer) -> None:
    """A token checked at a time inside its lifetime verifies even when the wall clock is past
    its expiry: the Clock port, not the machine's clock, decides (tests and the runtime's
    controllable clock move time on purpose)."""
    issued_ms = 1_600_000_000_000  # September 2020: long past by the wall clock
    token = issuer.issue(VISITOR, issued_ms)
    assert issuer.verify(token, issued_ms + 1000) == VISITOR


def test_a_hand_built_token_with_the_expected_claims_verifies(issuer: TokenIssuer) -> None:
    """The claims the refusals below start from are accepted as they are, so each refusal is
    caused by the one thing it changes."""
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert issuer.verify(token, FUTURE_MS) == VISITOR


def test_a_forged_signature_is_refused(issuer: TokenIssuer) -> None:
    """Changing the claims of a signed token (here the role) breaks its signature."""
    header, _, signature = issuer.issue(VISITOR, FUTURE_MS).split(".")
    forged = f"{header}.{_b64(claims(role='operator'))}.{signature}"
    refused(issuer, forged)


def test_a_token_with_a_flipped_signature_byte_is_refused(issuer: TokenIssuer) -> None:
    """A token whose signature was altered is refused."""
    token = issuer.issue(VISITOR, FUTURE_MS)
    head, _, sig = token.rpartition(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    refused(issuer, f"{head}.{flipped}")


def test_an_unsigned_alg_none_token_is_refused(issuer: TokenIssuer) -> None:
    """A token declaring alg none (no signature) is refused, however valid its claims."""
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims(role='operator'))}."
    refused(issuer, token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_signed_with_another_algorithm_is_refused(algorithm: str) -> None:
    """Only HS256 is accepted, even with the right secret."""
    secret = b"k" * 64
    token = jwt.encode(claims(), secret, algorithm=algorithm)
    refused(TokenIssuer(secret, TTL_S), token)


def test_a_token_signed_with_another_secret_is_refused(issuer: TokenIssuer) -> None:
    """A token from an issuer with a different secret is refused."""
    other = TokenIssuer(b"another-secret-that-is-long-enough-32b", TTL_S)
    refused(issuer, other.issue(VISITOR, FUTURE_MS))


def test_a_token_of_another_issuer_is_refused(issuer: TokenIssuer) -> None:
    """A token with the right signature but another iss is refused."""
    refused(issuer, jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "sub", "iss", "iat"])
def test_a_token_missing_a_required_claim_is_refused(issuer: TokenIssuer, missing: str) -> None:
    """exp, iat, sub and iss are all required."""
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    refused(issuer, token)


@pytest.mark.parametrize("role", ["guest", "admin", None])
def test_a_token_naming_a_guest_or_no_real_role_is_refused(
    issuer: TokenIssuer, role: str | None
) -> None:
    """Tokens are for visitors and operators; a guest token or an unknown role is refused."""
    token = jwt.encode(claims(role=role), SECRET, algorithm="HS256")
    refused(issuer, token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "...", "e30.e30.e30"])
def test_garbage_is_refused_as_unauthorized(issuer: TokenIssuer, garbage: str) -> None:
    """Strings that are not tokens are refused with unauthorized, never another exception."""
    refused(issuer, garbage)


@pytest.mark.parametrize("length", [0, 16, 31])
def test_a_short_secret_is_rejected_at_construction(length: int) -> None:
    """An issuer refuses to exist with a secret under 32 bytes."""
    with pytest.raises(ValueError, match="32 bytes"):
        TokenIssuer(b"s" * length, TTL_S)


def test_a_secret_source_is_read_on_use_not_at_construction() -> None:
    """Disconnect and FanOut build an issuer but never sign or verify: they must never read the
    secret, so their roles need no access to it."""
    reads: list[int] = []

    def source() -> bytes:
        reads.append(1)
        return SECRET

    lazy = TokenIssuer(source, TTL_S)
    assert reads == []
    token = lazy.issue(User(UserId("v_1"), Role.VISITOR, "Vic"), FUTURE_MS)
    assert lazy.verify(token, FUTURE_MS).id == "v_1"
    assert len(reads) == 2


def test_a_short_secret_from_a_source_is_rejected_on_use() -> None:
    lazy = TokenIssuer(lambda: b"short", TTL_S)
    with pytest.raises(ValueError, match="32 bytes"):
        lazy.issue(User(UserId("v_1"), Role.VISITOR, "Vic"), FUTURE_MS)


def test_bootstrap_builds_a_chat_without_reading_the_secret() -> None:
    """On AWS without TOKEN_SECRET_ARN: building succeeds; only a token use would need it."""
    env = {"HUBBUB_STORE": "dynamodb", "TABLE_NAME": "t", "CONNECTIONS_URL": "https://x.invalid/ws"}
    service = build_chat(env)
    with pytest.raises(KeyError, match="TOKEN_SECRET_ARN"):
        service.tokens.issue(User(UserId("v_1"), Role.VISITOR, "Vic"), FUTURE_MS)


# -- the error mapping, for both kinds of token --------------------------------------------------
def _sign_in(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def _unsubscribe(**overrides: Any) -> str:
    base = claims(role=None, nick=None, use="unsubscribe")
    base.update(overrides)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, algorithm="HS256")


def _check_sign_in(token: str) -> object:
    return TokenIssuer(SECRET, TTL_S).verify(token, FUTURE_MS)


def _check_unsubscribe(token: str) -> object:
    return verify_unsubscribe(TokenIssuer(SECRET, TTL_S), token, FUTURE_MS)


REFUSALS: list[tuple[str, Any, str, str]] = [
    # (case, checker, token, the message the caller sees)
    ("sign-in: expired", _check_sign_in, _sign_in(exp=FUTURE_MS // 1000), "token expired"),
    ("sign-in: bad signature", _check_sign_in, _sign_in()[:-3] + "AAA", "invalid token"),
    ("sign-in: other issuer", _check_sign_in, _sign_in(iss="x"), "invalid token"),
    ("sign-in: no iat", _check_sign_in, _sign_in(iat=None), "invalid token"),
    ("sign-in: exp not a number", _check_sign_in, _sign_in(exp="soon"), "invalid token"),
    ("sign-in: exp a list", _check_sign_in, _sign_in(exp=[1]), "invalid token"),
    ("sign-in: an unsubscribe token", _check_sign_in, _unsubscribe(), "invalid token"),
    ("sign-in: garbage", _check_sign_in, "a.b.c", "invalid token"),
    ("link: expired", _check_unsubscribe, _unsubscribe(exp=FUTURE_MS // 1000), "invalid link"),
    ("link: other issuer", _check_unsubscribe, _unsubscribe(iss="x"), "invalid link"),
    ("link: no use", _check_unsubscribe, _unsubscribe(use=None), "invalid link"),
    ("link: another use", _check_unsubscribe, _unsubscribe(use="login"), "invalid link"),
    ("link: exp not a number", _check_unsubscribe, _unsubscribe(exp="soon"), "invalid link"),
    ("link: a sign-in token", _check_unsubscribe, _sign_in(), "invalid link"),
    ("link: alg none", _check_unsubscribe, f"{_b64({'alg': 'none'})}.{_b64({})}.", "invalid link"),
]


@pytest.mark.parametrize(
    ("checker", "token", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_every_refusal_is_unauthorized_with_the_message_of_its_kind(
    checker: Any, token: str, message: str
) -> None:
    """Whatever is wrong with a token, the caller gets ``unauthorized`` with the message of its
    kind (a sign-in token says whether it expired; a link never says why), never another
    exception: a malformed ``exp`` once escaped as a ValueError."""
    with pytest.raises(ProtocolError) as caught:
        checker(token)
    assert (caught.value.code, caught.value.message) == (ErrorCode.UNAUTHORIZED, message)


def test_both_kinds_accept_their_own_well_formed_token() -> None:
    """The tokens the table starts from verify as they are, so each row fails for its one
    change."""
    assert _check_sign_in(_sign_in()) == VISITOR
    assert _check_unsubscribe(_unsubscribe()) == VISITOR.id
