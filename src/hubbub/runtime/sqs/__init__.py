"""SQS and SNS: the template's queues and topics in the embedded moto, SQS event sources and
the SNS subscriptions of functions."""
