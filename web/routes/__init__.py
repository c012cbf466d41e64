"""Route modules: each has ``install(app)`` adding its routes (see ``web.app.create_app``)."""
