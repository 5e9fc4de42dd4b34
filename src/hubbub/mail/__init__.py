"""Email to visitors: the Mailer port and its Amazon SES adapter."""
