-- pnl: how much did the run make or lose, by UTC day, market and strategy?
--
-- Realized P&L is recomputed from the journal exactly as the engine books it
-- (polyarb/core/positions.py, average cost): fills from trade_updated (a FAILED settlement
-- voids its fill), resolutions from markets_loaded and market_resolved; it equals the
-- engine's realized P&L to the micro-dollar (tests/reports/test_report_pnl.py). Unrealized P&L
-- marks what is held at the end of each day like the engine: hedged complete sets (a market's
-- tokens, or one YES of every market of a neg-risk group) at $1, the rest at a price; the
-- engine's price is the book's mid, the report's the token's last fill price (books are not
-- rebuilt in SQL), so unrealized can differ from the engine's while unhedged shares are held.
--
-- Columns:
--   day                     UTC day; realized and fees are that day's flows (sum them over
--                           days), open_qty and unrealized are levels at the day's end (do not)
--   market_id               condition id (a token id for a token no markets_loaded described)
--   strategy                the strategy of the opportunity whose order filled; a settlement's
--                           P&L goes to the token's last fill's; 'unattributed': no order matched
--   fills                   fills booked that day
--   realized_micros         realized P&L booked that day (collateral micro-dollars)
--   fees_collateral_micros  fees withheld from SELL proceeds that day (voided fees net out)
--   fees_shares_micros      fees withheld in shares from BUY fills that day (micro-shares)
--   open_qty_micros         shares held at the day's end, all tokens of the market together
--   unrealized_micros       value of what is held at the day's end minus its cost (a hedged
--                           set's $1 is split evenly over its tokens, remainder to the first)
--   realized_usd, unrealized_usd  the same in exact dollars
WITH days AS (
    SELECT DISTINCT shard, r_day(ts_recv_ns) AS day FROM events WHERE r_in_window(ts_recv_ns)
), flows AS (
    SELECT shard, r_day(ts_recv_ns) AS day, market_id, attributed AS strategy,
           count(*) FILTER (WHERE kind = 'fill') AS fills, sum(realized) AS realized,
           sum(fees_collateral) AS fees_collateral, sum(fees_shares) AS fees_shares
    FROM r_position_steps WHERE r_in_window(ts_recv_ns)
    GROUP BY ALL
), held AS (  -- every token's position at the end of each day (its last step up to then)
    SELECT shard, day, token_id, unnest(p) FROM (
        SELECT d.shard, d.day, s.token_id,
               arg_max({'market_id': s.market_id, 'qty': s.qty, 'cost': s.cost,
                        'price': s.last_price,
                        'strategy': coalesce(s.strategy, 'unattributed')}, s.seq) AS p
        FROM days AS d JOIN r_position_steps AS s
          ON s.shard = d.shard AND r_day(s.ts_recv_ns) <= d.day
        GROUP BY ALL)
    WHERE p['qty'] <> 0
), sets AS (  -- complete sets of one market: min quantity over its tokens
    SELECT h.shard, h.day, t.market_id, min(h.qty) AS n, count(*) AS k
    FROM held AS h JOIN r_tokens AS t USING (shard, token_id)
    GROUP BY ALL
    HAVING count(*) = (SELECT count(*) FROM r_tokens AS a
                       WHERE a.shard = h.shard AND a.market_id = t.market_id)
       AND count(*) >= 2 AND min(h.qty) > 0
), market_hedged AS (
    SELECT h.shard, h.day, h.token_id, coalesce(s.n, 0) AS hedged,
           coalesce(s.n // s.k + CASE WHEN row_number() OVER (
               PARTITION BY h.shard, h.day, s.market_id ORDER BY h.token_id) = 1
               THEN s.n % s.k ELSE 0 END, 0) AS set_value
    FROM held AS h LEFT JOIN r_tokens AS t USING (shard, token_id)
    LEFT JOIN sets AS s ON s.shard = h.shard AND s.day = h.day AND s.market_id = t.market_id
), groups AS (  -- groups whose YES tokens make a $1 set: not augmented, two markets or more
    SELECT shard, group_id, count(DISTINCT market_id) AS k
    FROM r_tokens WHERE group_id IS NOT NULL
    GROUP BY ALL HAVING count(DISTINCT market_id) >= 2 AND NOT bool_or(augmented)
), group_sets AS (
    SELECT d.shard, d.day, g.group_id, g.k,
           min(coalesce(h.qty, 0) - coalesce(m.hedged, 0)) AS n
    FROM days AS d JOIN groups AS g ON g.shard = d.shard
    JOIN r_tokens AS t ON t.shard = g.shard AND t.group_id = g.group_id AND t.is_yes
    LEFT JOIN held AS h ON h.shard = d.shard AND h.day = d.day AND h.token_id = t.token_id
    LEFT JOIN market_hedged AS m
      ON m.shard = d.shard AND m.day = d.day AND m.token_id = t.token_id
    GROUP BY ALL HAVING n > 0
), valued AS (
    SELECT h.shard, h.day, h.market_id AS market_id, h.strategy AS strategy, h.qty AS qty,
           -- (new names: an unqualified name binds to a column before an alias)
           m.hedged + coalesce(gs.n, 0) AS all_hedged,
           m.set_value + coalesce(gs.n // gs.k + CASE WHEN row_number() OVER (
               PARTITION BY h.shard, h.day, gs.group_id ORDER BY h.market_id) = 1
               THEN gs.n % gs.k ELSE 0 END, 0) AS all_set_value,
           h.qty - all_hedged AS rest,
           CASE WHEN h.price IS NULL THEN r_prorate(h.cost, rest, h.qty)
                ELSE r_floordiv(rest * h.price, 1000000) END AS rest_value,
           all_set_value + rest_value - h.cost AS unrealized
    FROM held AS h
    JOIN market_hedged AS m USING (shard, day, token_id)
    LEFT JOIN r_tokens AS t USING (shard, token_id)
    LEFT JOIN group_sets AS gs
      ON gs.shard = h.shard AND gs.day = h.day AND gs.group_id = t.group_id AND t.is_yes
), levels AS (
    SELECT shard, day, market_id, strategy, sum(qty) AS open_qty, sum(unrealized) AS unrealized
    FROM valued GROUP BY ALL
)
SELECT day, market_id, strategy, coalesce(f.fills, 0) AS fills,
       CAST(coalesce(f.realized, 0) AS HUGEINT) AS realized_micros,
       CAST(coalesce(f.fees_collateral, 0) AS HUGEINT) AS fees_collateral_micros,
       CAST(coalesce(f.fees_shares, 0) AS HUGEINT) AS fees_shares_micros,
       CAST(coalesce(l.open_qty, 0) AS HUGEINT) AS open_qty_micros,
       CAST(coalesce(l.unrealized, 0) AS HUGEINT) AS unrealized_micros,
       r_usd(realized_micros) AS realized_usd, r_usd(unrealized_micros) AS unrealized_usd
FROM flows AS f FULL JOIN levels AS l USING (shard, day, market_id, strategy)
ORDER BY day, market_id, strategy;
