"""API Gateway: WebSocket APIs (handshake, routes, frames, ``@connections``) and HTTP APIs."""
