"""S3 for the template's buckets: moto behind a front on the runtime's own port."""
