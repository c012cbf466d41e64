"""The Discord side of notifications: the DM and fallback-channel sender the delivery
uses, and the notification embeds (``core.notifications``).
"""
