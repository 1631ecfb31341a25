"""Test doubles shipped with ocodex: an in-process scripted model that drives a thread directly (`scripted`)."""
