"""Runnable examples of adapter workflows."""
