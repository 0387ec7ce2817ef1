"""The team's web console (served by the run command): conversation analytics for admins today."""
