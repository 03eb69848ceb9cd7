-- latency: how fast did the run go from market data to a decision, from a decision to the
-- venue's answer, and from that answer to a fill?
--
-- Stages, from ts_recv_ns and cause_seq links (a decision carries the receive time of the input
-- that caused it):
--   frame_to_decision  the venue's timestamp of the frame that triggered an order batch (its
--                      first message's `timestamp`, ms) to the batch's decision: the age of
--                      the data the decision used (includes the network and the venue's clock)
--   decision_to_ack    an order's place_orders/unwind to its order_accepted, order_rejected or
--                      order_outcome_unknown (journaling, signing, network, the venue)
--   ack_to_fill        an order's order_accepted to the first trade_updated on its venue id
-- Samples are counted in the window by the time of the stage's end.
--
-- Columns:
--   stage                   one of the three above
--   samples                 how many
--   p50_ms, p90_ms, p99_ms  percentiles (nearest sample), exact milliseconds
--   max_ms                  the slowest
WITH decided AS (
    SELECT shard, ts_recv_ns, cause_seq FROM place_orders
    UNION ALL SELECT shard, ts_recv_ns, cause_seq FROM unwind
), causes AS MATERIALIZED (  -- only the frames that caused a decision, read once
    -- (a mark join, `coalesce(x IN (...), false)`, never a semi join: DuckDB guesses ~42 rows
    -- per NDJSON segment and would hash every frame instead of the decisions' seqs: 6 GB)
    SELECT f.shard, f.seq, f.frame FROM raw_frame AS f
    WHERE coalesce(f.seq IN (SELECT cause_seq FROM decided), false)
), frames AS (
    SELECT p.shard, p.ts_recv_ns AS end_ns,
           p.ts_recv_ns - 1000000 * TRY_CAST(coalesce(f.frame ->> '$.timestamp',
                                                      f.frame ->> '$[0].timestamp') AS BIGINT)
               AS ns
    FROM decided AS p JOIN causes AS f ON f.shard = p.shard AND f.seq = p.cause_seq
), answers AS (
    SELECT shard, client_order_id, min(ts_recv_ns) AS ts FROM (
        SELECT shard, client_order_id, ts_recv_ns FROM order_accepted
        UNION ALL SELECT shard, client_order_id, ts_recv_ns FROM order_rejected
        UNION ALL SELECT shard, client_order_id, ts_recv_ns FROM order_outcome_unknown)
    GROUP BY ALL
), first_fills AS (
    SELECT shard, venue_order_id, min(ts_recv_ns) AS ts FROM trade_updated GROUP BY ALL
), samples AS (
    SELECT 'frame_to_decision' AS stage, 1 AS n, end_ns, ns FROM frames WHERE ns IS NOT NULL
    UNION ALL
    SELECT 'decision_to_ack', 2, a.ts, a.ts - o.decision_ns
    FROM r_orders AS o JOIN answers AS a USING (shard, client_order_id)
    UNION ALL
    SELECT 'ack_to_fill', 3, f.ts, f.ts - o.accepted_ns
    FROM r_orders AS o JOIN first_fills AS f USING (shard, venue_order_id)
)
SELECT stage, count(*) AS samples, r_ms(quantile_disc(ns, 0.5)) AS p50_ms,
       r_ms(quantile_disc(ns, 0.9)) AS p90_ms, r_ms(quantile_disc(ns, 0.99)) AS p99_ms,
       r_ms(max(ns)) AS max_ms
FROM samples
WHERE r_in_window(end_ns)
GROUP BY stage, n
ORDER BY n;
