"""NLU components that run inside the Rasa server."""

# Rasa's fixes apply wherever these components load: in `rasa train` (the fingerprints of features) as in the server.
import bot.rasa_patches  # noqa: E402,F401
