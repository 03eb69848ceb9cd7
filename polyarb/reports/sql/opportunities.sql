-- opportunities: what did the engine find, what did it take, what did the gates refuse, and
-- how did the edge it expected compare with what its fills captured?
--
-- One row per opportunity_detected in the window. An opportunity is `placed` (a place_orders
-- followed) or `blocked` (an opportunity_blocked names the first gate that refused it).
-- Captured edge, for placed opportunities, from the non-voided fills of all their orders
-- (legs, retries and exits): complete sets formed (the minimum net shares over the legs, worth
-- $1 each; for SELL strategies the sets given up, counted against) plus the cash in minus the
-- cash out and SELL fees. Shares left over, unbalanced, are not valued here (see pnl).
--
-- Columns:
--   seq, at            the opportunity_detected record
--   opp_id, strategy, market_id
--   legs               number of legs
--   size_micros        shares per leg
--   cost_micros        expected collateral cost at the walked prices
--   fees_micros        expected fees
--   expected_edge_micros  expected profit after fees at this size
--   outcome            placed, blocked or detected (neither: a decision is missing)
--   gate, gate_limit, gate_observed   the refusing gate and its exact limit and observation
--   orders             orders sent for it (legs and unwinds)
--   fills              non-voided fills of those orders
--   captured_edge_micros  what the fills captured (NULL when not placed)
--   cause_seq          the input that triggered the detection
WITH legs AS (
    SELECT shard, opp_id, unnest(from_json(legs, '[{"token_id":"VARCHAR","side":"VARCHAR"}]'))
        AS leg
    FROM opportunity_detected
), fills AS (
    SELECT shard, opp_id, token_id, count(*) AS n,
           sum(CASE WHEN side = 'BUY' THEN size_micros - fee_micros ELSE -size_micros END)
               AS net_shares,
           sum(CASE WHEN side = 'SELL' THEN notional_micros - fee_micros
                    ELSE -notional_micros END) AS cash
    FROM r_fills WHERE void_seq IS NULL AND opp_id IS NOT NULL
    GROUP BY ALL
), captured AS (
    SELECT l.shard, l.opp_id,
           bool_and(l.leg.side = 'BUY') AS buys, bool_and(l.leg.side = 'SELL') AS sells,
           min(coalesce(f.net_shares, 0)) AS min_net, max(coalesce(f.net_shares, 0)) AS max_net
    FROM legs AS l
    LEFT JOIN fills AS f
      ON f.shard = l.shard AND f.opp_id = l.opp_id AND f.token_id = l.leg.token_id
    GROUP BY ALL
), totals AS (
    SELECT shard, opp_id, sum(n) AS n, sum(cash) AS cash FROM fills GROUP BY ALL
), orders AS (
    SELECT shard, opp_id, count(*) AS n FROM r_orders GROUP BY ALL
), placed AS (
    SELECT DISTINCT shard, opp_id FROM place_orders
)
SELECT d.seq, r_at(d.ts_recv_ns) AS at, d.opp_id, d.strategy, d.market_id,
       json_array_length(d.legs) AS legs, d.size_micros, d.cost_micros, d.fees_micros,
       d.edge_micros AS expected_edge_micros,
       CASE WHEN p.opp_id IS NOT NULL THEN 'placed'
            WHEN b.gate IS NOT NULL THEN 'blocked' ELSE 'detected' END AS outcome,
       b.gate, r_num(b."limit") AS gate_limit, r_num(b.observed) AS gate_observed,
       coalesce(o.n, 0) AS orders, CAST(coalesce(t.n, 0) AS BIGINT) AS fills,
       CASE WHEN outcome <> 'placed' THEN NULL
            WHEN c.buys THEN greatest(c.min_net, 0) + coalesce(t.cash, 0)
            WHEN c.sells THEN coalesce(t.cash, 0) - greatest(-c.max_net, 0)
            ELSE coalesce(t.cash, 0) END AS captured_edge_micros,
       d.cause_seq
FROM opportunity_detected AS d
LEFT JOIN opportunity_blocked AS b ON b.shard = d.shard AND b.opp_id = d.opp_id
LEFT JOIN captured AS c ON c.shard = d.shard AND c.opp_id = d.opp_id
LEFT JOIN totals AS t ON t.shard = d.shard AND t.opp_id = d.opp_id
LEFT JOIN orders AS o ON o.shard = d.shard AND o.opp_id = d.opp_id
LEFT JOIN placed AS p ON p.shard = d.shard AND p.opp_id = d.opp_id
WHERE r_in_window(d.ts_recv_ns)
ORDER BY d.shard, d.seq;
