"""An async Python client of the hubbub protocol, used by the CLI, the tests and the benchmarks."""

from hubbub.client.connection import ClientError, HubbubClient, SendRetryExhausted

__all__ = ["ClientError", "HubbubClient", "SendRetryExhausted"]
