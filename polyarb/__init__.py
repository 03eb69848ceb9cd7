"""polyarb: an event-sourced arbitrage engine for Polymarket's CLOB."""

__version__ = "0.1.0"
