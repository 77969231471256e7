"""Storage: the web app's and the queue's shared state (models, engine and sessions, settings,
timeline, migrations). It sits under both the queue and the web layers and imports neither."""
