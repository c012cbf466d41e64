"""The options the ``/async`` commands share."""

TOURNAMENT_HELP = "The async tournament: pick one from the suggestions"
POOL_HELP = "The pool's name, e.g. Pool A"
