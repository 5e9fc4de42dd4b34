"""The wire format of hubbub: client actions, server events, error codes, topics and limits. No
I/O."""
