"""Facial emotion recognition for ROS 2: vision core (ROS-free) and thin nodes."""
