# Benchmarks that ship with the package (`polyarb bench ...`): a deterministic feed generator
# (feedgen) and the full-pipeline measurement (pipeline). Rules: nothing here is imported by the
# engine or the runtime; numbers are printed, never asserted.
