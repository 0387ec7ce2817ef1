"""The help centre: articles the team writes (data/knowledge/, the console), the search the bot answers from, and
the questions it could not answer."""
