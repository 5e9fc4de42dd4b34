"""Push through API Gateway's ``@connections`` management API (boto3)."""
