# Venue adapters: the imperative edge between polyarb and an exchange.
#
# Rules: the deterministic core (polyarb/core, polyarb/events) never imports this package;
# venue code may read clocks and do I/O, but only where a module's header says so.
