"""Hand chunks of a large fan-out to the push function through SQS."""
