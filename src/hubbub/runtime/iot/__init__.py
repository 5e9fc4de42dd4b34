"""AWS IoT Core in the local runtime: the MQTT message broker (3.1.1 and 5, over TCP and
WebSocket), its quotas, and the hooks where authorizers, policies, rules and lifecycle events
plug in (``hooks.py``)."""
