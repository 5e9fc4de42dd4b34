"""DynamoDB adapter of the Store port: the single table of ``template.yaml`` on AWS."""

from hubbub.store.dynamodb.adapter import DynamoStore

__all__ = ["DynamoStore"]
