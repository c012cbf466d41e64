"""Race-room chat commands (issue 24): what RaceDesk answers when someone types ``!help``,
``!match``, ``!seed``, ``!lock``/``!unlock``, ``!fpa`` or ``!breaks`` in a room it watches."""
