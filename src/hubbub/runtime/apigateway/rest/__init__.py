"""API Gateway REST APIs (Lambda proxy integration, payload format 1.0): the event, the response,
SAM's CORS preflight, and the gateway, on the pieces HTTP APIs share (``apigateway/proxy.py``,
``apigateway/http/``)."""
