"""Where attachments live: the ``Files`` port and its S3 adapter."""
