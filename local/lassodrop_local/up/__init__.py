"""`lassodrop up`: the embedded stack as a long-running local service, and the state file that finds it."""
