"""API Gateway HTTP APIs (payload format 2.0): routing, mounting, the event, the response, CORS,
and the gateway that carries bytes between aiohttp, those pure rules and the function pools."""
