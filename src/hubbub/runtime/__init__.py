"""The local emulator: reads a SAM template and runs it as API Gateway + Lambda + DynamoDB Streams.

Nothing in this package imports chat code: functions are loaded from the template's ``Handler``
strings, in worker processes, the way Lambda loads them.
"""
