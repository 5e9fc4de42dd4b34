"""Lambda entry points: parse the event, call chat, shape the response. Thin on purpose."""
