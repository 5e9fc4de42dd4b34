"""API Gateway WebSocket APIs: the handshake and ``$connect``, route selection, the frames a
connection sends, idle and max-age timers, ``$disconnect``, and delivery for ``@connections``."""
