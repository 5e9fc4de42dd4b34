"""DynamoDB: the template's tables, their streams and the event source mappings that poll them."""
