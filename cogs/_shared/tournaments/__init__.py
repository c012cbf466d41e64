"""The Discord side of tournaments and matches: their embeds and the tournament choices
of autocomplete (``core.tournaments``).
"""
