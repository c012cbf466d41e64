"""The rehearsal's scenes, played in this order; each capability adds its own.

A scene is a short module with a ``SCENE = Scene(title, play)``; ``play(stage)`` acts and
checks through :class:`rehearsal.stage.Stage`.
"""

from rehearsal.scenes import (
    about,
    access,
    admin,
    api,
    async_runs,
    live_race,
    metrics,
    not_let_in,
    notifications,
    race,
    racetime_bot,
    restart,
    room_commands,
    scheduling,
    tournament,
)
from rehearsal.stage import Scene

SCENES: list[Scene] = [
    racetime_bot.SCENE, race.SCENE, restart.SCENE, notifications.SCENE, tournament.SCENE,
    not_let_in.SCENE, room_commands.SCENE, scheduling.SCENE, access.SCENE, admin.SCENE,
    api.SCENE,
    live_race.SCENE, async_runs.SCENE, about.SCENE, metrics.SCENE,
]
