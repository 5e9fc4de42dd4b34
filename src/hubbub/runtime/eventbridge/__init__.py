"""EventBridge schedules: ``Schedule`` events (EventBridge rules) and ``ScheduleV2`` events
(EventBridge Scheduler): their expressions, the events they send, and the loop that fires them."""
