"""Near misses that must be refused or scrubbed: admin tokens one character off (prefix, suffix, case,
whitespace), and a password in the driver's own error text."""

from __future__ import annotations

import base64

import psycopg
import pytest

from pgcontract.connect import CannotConnect, Target, connect
from pgcontract.server.app import token_matches

TOKEN = "s3cret-Admin-token"


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()


NEAR_MISSES = {
    "prefix": TOKEN[:-1],
    "one character": TOKEN[:1],
    "suffix": TOKEN + "x",
    "upper case": TOKEN.upper(),
    "lower case": TOKEN.lower(),
    "space inside": TOKEN[:6] + " " + TOKEN[6:],
    "tab before the last character": TOKEN[:-1] + "\t" + TOKEN[-1],
    "empty": "",
}


@pytest.mark.parametrize("near", list(NEAR_MISSES))
def test_a_token_one_step_off_is_refused_as_bearer_and_as_basic(near: str) -> None:
    candidate = NEAR_MISSES[near]
    assert not token_matches(f"Bearer {candidate}", TOKEN)
    assert not token_matches(basic(candidate), TOKEN)


def test_the_token_itself_is_accepted_as_bearer_and_as_basic_whatever_the_scheme_case() -> None:
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"bearer {TOKEN}", TOKEN)
    assert token_matches(basic(TOKEN), TOKEN)
    assert not token_matches(f"Token {TOKEN}", TOKEN)
    assert not token_matches(TOKEN, TOKEN)


def test_a_password_in_the_servers_error_text_is_scrubbed(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    """The database named like the password: PostgreSQL's 'database "..." does not exist' quotes it."""
    password = "Hunter2-Hunter2"
    info = pg.info
    dsn = f"postgresql://{info.user}:{password}@{info.host}:{info.port}/{password}"
    with pytest.raises(psycopg.OperationalError) as raw:
        psycopg.connect(dsn)
    assert password in str(raw.value)  # the driver's own text carries it
    with pytest.raises(CannotConnect) as raised:
        connect(Target(name="t", dsn=dsn))
    # The target's name shows the database (here, by the test's choice, the password); what the driver
    # said is scrubbed.
    reason = str(raised.value).partition(": connection failed")[2]
    assert 'database "********" does not exist' in reason, str(raised.value)
    assert password not in reason
