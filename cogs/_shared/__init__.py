"""Helpers shared by the cogs: the error funnel, replies, permission checks."""
