"""The Slack edge: request checks and payload models, HTTP, Socket Mode, the transport's
lifecycle, the outlet that posts, and the Bolt listeners. Nothing here imports ``bot.app``:
the server is handed the built app (:class:`bot.slack.server.Servable`)."""
