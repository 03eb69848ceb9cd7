-- fills: every fill of our orders, as the engine booked it.
--
-- One row per trade (the first valid trade_updated of a trade id books the fill; later events
-- of the same trade only advance its settlement; a FAILED settlement voids it, unless it was
-- CONFIRMED first). Rows are in the window by the time the fill was booked.
--
-- Columns:
--   seq, at              journal seq and UTC time of the event that booked the fill
--   trade_id             the venue's trade id
--   client_order_id      our order (NULL: the venue order id matches no order_accepted)
--   venue_order_id       the venue's order id
--   opp_id, strategy     the opportunity the order belongs to
--   role                 leg (of a place_orders batch), retry_leg or sell_legs (an unwind)
--   market_id, token_id  where it traded
--   side, trader_side    BUY/SELL; TAKER/MAKER
--   price_micros         execution price
--   size_micros          shares filled
--   fee_micros           fee withheld: shares on a BUY, collateral on a SELL
--   notional_micros      collateral paid (BUY, rounded up) or received (SELL, rounded down)
--   settlement           MATCHED, MINED, RETRYING, CONFIRMED or FAILED (as the engine sees it)
--   voided_seq           seq of the FAILED event that voided the fill, if any
SELECT seq, r_at(ts_recv_ns) AS at, trade_id, client_order_id, venue_order_id, opp_id,
       strategy, role, market_id, token_id, side, trader_side, price_micros, size_micros,
       fee_micros, CAST(notional_micros AS HUGEINT) AS notional_micros, settlement,
       void_seq AS voided_seq
FROM r_fills
WHERE r_in_window(ts_recv_ns)
ORDER BY shard, seq;
