"""The Discord side of async tournaments and live races: their embeds (``core.live_races``).
"""
