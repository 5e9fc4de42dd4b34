"""CloudFormation: the SAM template read the way CloudFormation reads it (YAML tags, intrinsics,
resources)."""
