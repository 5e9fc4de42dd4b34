"""The Store port and its adapters (``sqlite``, ``dynamodb``), which share module names."""
