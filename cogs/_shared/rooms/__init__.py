"""The Discord side of match rooms: ``/open-room``'s preview and answers (``core.rooms``).
"""
