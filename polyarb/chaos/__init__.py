# Chaos runs: polyarb against a faulty simulator, SIGKILLed and restarted, then the journal's
# invariants checked (polyarb.chaos.driver runs it, polyarb.chaos.checks judges the journal).
