"""The agent console (served by the run command): handoffs and the review queue for agents, analytics for admins."""
