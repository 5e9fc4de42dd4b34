"""Push through the local runtime's batch endpoint."""
