# The deterministic core: parsing of raw frames, books, markets, detection, risk, orders and P&L.
# Rules: no I/O, no clock, no randomness, no environment; time arrives inside events and ids come
# from state. Never let output order depend on set iteration or hash order. See docs/core.md.
