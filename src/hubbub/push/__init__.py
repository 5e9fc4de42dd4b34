"""The Push port (post to many connections, report the gone ones) and its adapters."""
