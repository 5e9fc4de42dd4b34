"""Lambda: execution environments as worker processes, one invocation at a time each."""
