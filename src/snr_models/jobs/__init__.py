"""Jobs: orchestration of the analytical layers, tracking and outputs."""
