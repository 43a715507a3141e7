"""Training, evaluation and data tools for the fer_ros models."""
