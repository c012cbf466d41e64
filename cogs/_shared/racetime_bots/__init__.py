"""The Discord side of the racetime category bots: the credentials form, their embeds
and the sender of owners' alerts (``core.racetime_bots``).
"""
