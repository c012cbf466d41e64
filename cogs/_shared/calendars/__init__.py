"""The Discord side of calendar feeds (``core.calendars``): the reply that hands out a feed's
secret URL."""
