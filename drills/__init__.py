"""Failure drills under load on the local replica of the architecture (lab.cluster), and the load profile."""
