"""Who may open a WebSocket connection (``runtime.apigateway.websocket.admission``): the account's
window shared per source address, and the cap on one address's open connections."""

from __future__ import annotations

import pytest

from hubbub.runtime.apigateway.websocket.admission import Admission, AdmissionLimits, Verdict

ADMIT = Verdict.ADMIT
RATE = Verdict.ADDRESS_RATE
ACCOUNT = Verdict.ACCOUNT_RATE
OPEN = Verdict.ADDRESS_CONNECTIONS


def limits(account: float = 10, address: float = 3, open_cap: int = 0) -> AdmissionLimits:
    return AdmissionLimits(
        account_per_s=account, address_per_s=address, connections_per_address=open_cap
    )


# each step: (time, address, expected verdict); "-addr" releases one of addr's connections
Step = tuple[float, str, Verdict | None]


@pytest.mark.parametrize(
    ("lim", "steps"),
    [
        pytest.param(
            limits(address=3),
            [(0.0, "a", ADMIT), (0.0, "a", ADMIT), (0.0, "a", ADMIT), (0.0, "a", RATE)],
            id="an address gets one second's worth at once, then 429",
        ),
        pytest.param(
            limits(address=3),
            [(0.0, "a", ADMIT)] * 3 + [(0.0, "a", RATE), (0.0, "b", ADMIT), (0.0, "c", ADMIT)],
            id="a flooding address leaves the others their share",
        ),
        pytest.param(
            limits(address=2),
            [(0.0, "a", ADMIT), (0.0, "a", ADMIT), (0.2, "a", RATE), (0.5, "a", ADMIT)],
            id="the bucket refills at the address's rate",
        ),
        pytest.param(
            limits(address=2),
            [(0.0, "a", ADMIT), (0.0, "a", ADMIT)] + [(0.1, "a", RATE)] * 50 + [(0.5, "a", ADMIT)],
            id="refused attempts cost nothing",
        ),
        pytest.param(
            limits(account=4, address=3),
            [(0.0, "a", ADMIT)] * 3 + [(0.0, "b", ADMIT), (0.0, "c", ACCOUNT), (1.0, "c", ADMIT)],
            id="the account's window still holds across addresses and slides after a second",
        ),
        pytest.param(
            limits(account=2, address=5),
            [
                *[(0.0, "a", ADMIT), (0.0, "b", ADMIT)],
                *[(0.5, "a", ACCOUNT), (0.6, "a", ACCOUNT), (1.0, "a", ADMIT)],
            ],
            id="a refusal by the account takes no token from the address",
        ),
        pytest.param(
            limits(address=10, open_cap=2),
            [
                *[(0.0, "a", ADMIT), (0.0, "a", ADMIT), (0.0, "a", OPEN), (0.0, "b", ADMIT)],
                *[(0.0, "-a", None), (0.0, "a", ADMIT), (0.0, "a", OPEN)],
            ],
            id="an address holds at most its cap of open connections; closing one frees a slot",
        ),
        pytest.param(
            limits(account=0, address=0, open_cap=0),
            [(0.0, "a", ADMIT)] * 100,
            id="0 turns every limit off",
        ),
        pytest.param(
            limits(address=0.5),
            [(0.0, "a", ADMIT), (0.0, "a", RATE), (1.0, "a", RATE), (2.0, "a", ADMIT)],
            id="a rate under one per second still lets one connection through",
        ),
    ],
)
def test_admission(lim: AdmissionLimits, steps: list[Step]) -> None:
    admission = Admission(lim)
    for n, (now, address, expected) in enumerate(steps):
        if address.startswith("-"):
            admission.release(address[1:])
            continue
        assert admission.admit(address, now) is expected, f"step {n}: {address} at {now}"


def test_release_frees_only_what_was_held() -> None:
    admission = Admission(limits(open_cap=1))
    assert admission.admit("a", 0.0) is ADMIT
    admission.release("a")
    admission.release("a")  # a second release of the same address holds no negative count
    assert admission.open_connections("a") == 0
    assert admission.admit("a", 0.0) is ADMIT
    assert admission.admit("a", 0.0) is OPEN


def test_idle_buckets_are_forgotten_without_changing_any_verdict() -> None:
    """Many addresses seen once: full buckets are dropped, a busy one keeps its state."""
    admission = Admission(limits(account=0, address=1))
    for n in range(5000):  # one new address a millisecond, for five seconds
        assert admission.admit(f"10.0.{n // 256}.{n % 256}", n / 1000) is ADMIT
        if n == 4990:
            assert admission.admit("busy", n / 1000) is ADMIT
    assert admission.admit("busy", 5.0) is RATE, "the busy address's spent bucket was kept"
    assert len(admission._buckets) < 5000
