"""Broadcast through IoT Core's data plane (``iot-data`` Publish)."""
