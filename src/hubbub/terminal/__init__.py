"""Terminal clients: ``hubbub chat`` (interactive) and ``hubbub tail`` (JSON lines for scripts)."""
