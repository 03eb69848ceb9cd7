-- pnl: how much did the run make or lose, by UTC day, market and strategy?
--
-- Realized P&L is recomputed from the journal exactly as the engine books it
-- (polyarb/core/positions.py, average cost): fills from trade_updated (a FAILED settlement
-- voids its fill), resolutions from markets_loaded and market_resolved; it equals the
-- engine's realized P&L to the micro-dollar (tests/reports/test_report_pnl.py).
--
-- Unrealized P&L marks what is held at the end of each day (or at --until, if earlier) like
-- the engine (positions.py rule 7), so that it equals the engine's to the micro-dollar too:
-- hedged complete sets (a market's tokens, or one YES of every market of a neg-risk group) at
-- $1; the rest at the mid of the token's book, (best bid + best ask) // 2; with one side empty,
-- that side's price; with no usable book, the token's last fill price; with no fill price, cost.
-- The top of each held token's book is found as the engine holds it at that point, reading only
-- frames that name a held token (text searches first: most frames are other tokens'). Whether
-- the book is usable comes from the engine's own journaled decisions, which record every change
-- of it: continuity_broken (a crossed book, a venue top that disagrees, a tick size change, a
-- lost update, a stale feed) and continuity_restored; a snapshot makes a book usable unless it
-- is crossed. For a usable book: when the last update after its last `book` snapshot (a
-- price_change entry or a best_bid_ask event) gave the venue's best bid and ask, the top is
-- those (the engine checked them against its book, and a disagreement would have broken it; an
-- empty side is bid 0 / ask 1); otherwise the levels are rebuilt: the snapshot's (best bid =
-- highest bid, best ask = lowest ask), then every price_change entry after it (sizes are
-- absolute; 0 deletes the level; the legacy changes[] format too). Elements the engine
-- rejected (frame_rejected) are skipped as the engine skipped them.
-- Limit: a book whose last snapshot lies in a day the report does not read (journal roots
-- restricted to some days) is unknown to it; the `mark` column then says last_fill.
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
--   mark                    how the unhedged shares held at the day's end were priced: mid,
--                           bid or ask (the book: both sides, only bids, only asks), last_fill
--                           (no usable book), cost (no usable book and no fill price), set (all
--                           held shares are in hedged sets); several joined by '+' (sorted)
--                           when the market's tokens differ; empty when nothing is held
WITH scan AS MATERIALIZED (  -- one pass over the journal for what is not in _common's tables
    SELECT shard, r_day(ts_recv_ns) AS day, r_in_window(ts_recv_ns) AS in_window,
           -- the engine's records on book usability (see `states`) and rejected elements
           list({'seq': seq, 'ts_recv_ns': ts_recv_ns, 'kind': kind, 'token_id': token_id,
                 'cause_seq': cause_seq, 'element': element}) FILTER (WHERE kind IN (
               'continuity_broken', 'continuity_restored', 'frame_rejected')) AS engine,
           -- market frames that may hold a snapshot of a traded token (a text search first)
           list({'seq': seq, 'ts_recv_ns': ts_recv_ns, 'j': j}) FILTER (
               WHERE CASE WHEN kind = 'raw_frame' AND coalesce(channel, 'market') = 'market'
                               AND contains(CAST(j AS VARCHAR), '"book"')
                          THEN list_bool_or(list_transform(  -- (CASE: only for those)
                              (SELECT list(DISTINCT token_id) FROM r_position_steps),
                              lambda x: contains(CAST(j AS VARCHAR), x))) END) AS book_frames
    FROM (SELECT *, coalesce(frame, CASE WHEN kind = 'raw_frame' AND NOT coalesce("binary", false)
                                          AND json_valid(text) THEN CAST(text AS JSON) END) AS j
          FROM events)
    GROUP BY ALL
), days AS (  -- each day of the window and the point its levels are taken at (exclusive)
    SELECT DISTINCT shard, day,
           least(CAST(date_diff('day', DATE '1970-01-01', day) + 1 AS BIGINT) * 86400000000000,
                 coalesce(getvariable('until_ns'), 9223372036854775807)) AS end_ns
    FROM scan WHERE in_window
), flows AS (
    SELECT shard, r_day(ts_recv_ns) AS day, market_id, attributed AS strategy,
           count(*) FILTER (WHERE kind = 'fill') AS fills, sum(realized) AS realized,
           sum(fees_collateral) AS fees_collateral, sum(fees_shares) AS fees_shares
    FROM r_position_steps WHERE r_in_window(ts_recv_ns)
    GROUP BY ALL
), held AS (  -- every token's position at the end of each day (its last step up to then)
    SELECT shard, day, end_ns, token_id, unnest(p) FROM (
        SELECT d.shard, d.day, d.end_ns, s.token_id,
               arg_max({'market_id': s.market_id, 'qty': s.qty, 'cost': s.cost,
                        'price': s.last_price,
                        'strategy': coalesce(s.strategy, 'unattributed')}, s.seq) AS p
        FROM days AS d JOIN r_position_steps AS s
          ON s.shard = d.shard AND s.ts_recv_ns < d.end_ns
        GROUP BY ALL)
    WHERE p['qty'] <> 0
), held_tokens AS MATERIALIZED (
    SELECT DISTINCT shard, token_id FROM held
), engine_marks AS (
    SELECT shard, m.seq, m.ts_recv_ns, m.kind, m.token_id, m.cause_seq, m.element
    FROM (SELECT shard, unnest(engine) AS m FROM scan)
), frames AS NOT MATERIALIZED (  -- market frames up to the last point, JSON and text
    SELECT shard, seq, ts_recv_ns, j, CAST(j AS VARCHAR) AS t FROM (
        SELECT shard, seq, ts_recv_ns,
               coalesce(frame, CASE WHEN NOT coalesce("binary", false) AND json_valid(text)
                                    THEN CAST(text AS JSON) END) AS j
        FROM raw_frame
        WHERE channel = 'market' AND ts_recv_ns < (SELECT max(end_ns) FROM days))
    WHERE j IS NOT NULL
), snapshots AS (  -- book snapshots of held tokens the engine did not reject; key: their order
    SELECT e.shard, e.seq, e.ts_recv_ns, r_key(e.seq, e.i) AS key, t.token_id, e.msg
    FROM (SELECT f.shard, f.seq, f.ts_recv_ns, unnest(r_elements(f.j)) AS msg,
                 generate_subscripts(r_elements(f.j), 1) - 1 AS i
          FROM (SELECT shard, b.seq, b.ts_recv_ns, b.j
                FROM (SELECT shard, unnest(book_frames) AS b FROM scan)) AS f) AS e
    JOIN held_tokens AS t ON t.shard = e.shard AND t.token_id = e.msg ->> '$.asset_id'
    WHERE e.msg ->> '$.event_type' = 'book' AND NOT EXISTS (
          SELECT 1 FROM engine_marks AS r
          WHERE r.kind = 'frame_rejected' AND r.shard = e.shard AND r.cause_seq = e.seq
            AND (r.element IS NULL OR r.element = e.i))
), snapshot_levels AS (  -- their levels (size 0 is no level; a repeated price: the last wins)
    SELECT s.shard, s.ts_recv_ns, s.key, s.token_id, l.is_bid, l.k,
           r_micros(l.lv ->> '$.price') AS price, r_micros(l.lv ->> '$.size') AS size
    FROM snapshots AS s,
         (SELECT unnest(x) AS lv, generate_subscripts(x, 1) AS k, b AS is_bid
          FROM (SELECT true AS b, from_json(CASE WHEN json_exists(s.msg, '$.bids')
                    THEN s.msg -> '$.bids' ELSE s.msg -> '$.buys' END, '["json"]') AS x
                UNION ALL
                SELECT false, from_json(CASE WHEN json_exists(s.msg, '$.asks')
                    THEN s.msg -> '$.asks' ELSE s.msg -> '$.sells' END, '["json"]'))) AS l
    WHERE size <> 0
), states AS (  -- what made a held token's book usable or not, in journal order
    SELECT s.shard, s.key, s.ts_recv_ns, s.token_id,
           NOT coalesce((SELECT max(l.price) FILTER (WHERE l.is_bid)
                                >= min(l.price) FILTER (WHERE NOT l.is_bid)
                         FROM snapshot_levels AS l
                         WHERE l.shard = s.shard AND l.key = s.key), false) AS usable
    FROM snapshots AS s  -- usable unless crossed
    UNION ALL
    SELECT shard, r_key(seq, 0), ts_recv_ns, token_id, kind = 'continuity_restored'
    FROM engine_marks WHERE kind <> 'frame_rejected'
), books AS (  -- the usable books of held tokens at each day's end, since which snapshot
    SELECT * FROM (
        SELECT h.shard, h.day, h.end_ns, h.token_id, arg_max(s.usable, s.key) AS usable,
               (SELECT max(n.key) FROM snapshots AS n
                WHERE n.shard = h.shard AND n.token_id = h.token_id
                  AND n.ts_recv_ns < h.end_ns) AS since_key
        FROM held AS h JOIN states AS s
          ON s.shard = h.shard AND s.token_id = h.token_id AND s.ts_recv_ns < h.end_ns
        GROUP BY ALL)
    WHERE usable
), last_frames AS (  -- per usable book: the last frame after its snapshot that may move it
    SELECT b.shard, b.day, b.token_id, max(f.seq) AS seq, arg_max(f.j, f.seq) AS j
    FROM books AS b JOIN frames AS f  -- a text search: nothing is parsed here
      ON f.shard = b.shard AND f.seq >= CAST(b.since_key // 4294967296 AS BIGINT)
     AND f.ts_recv_ns < b.end_ns AND contains(f.t, b.token_id)
     AND (contains(f.t, '"price_change"') OR contains(f.t, '"best_bid_ask"'))
    GROUP BY ALL
), witnesses AS (  -- in it, the book's last price_change entry or best_bid_ask event
    SELECT shard, day, token_id, arg_max({'bid': bid, 'ask': ask}, key) AS top
    FROM (SELECT w.shard, w.day, w.token_id, w.since_key, r_key(w.seq, w.i) * 4294967296 + u.k
                     AS key,
                 r_micros(nullif(u.it ->> '$.best_bid', '')) AS bid,
                 r_micros(nullif(u.it ->> '$.best_ask', '')) AS ask,
                 coalesce(u.it ->> '$.asset_id', w.msg ->> '$.asset_id') AS item_token
          FROM (SELECT l.*, b.since_key, unnest(r_elements(l.j)) AS msg,
                       generate_subscripts(r_elements(l.j), 1) - 1 AS i
                FROM last_frames AS l JOIN books AS b USING (shard, day, token_id)) AS w,
               (SELECT unnest(x) AS it, generate_subscripts(x, 1) AS k
                FROM (SELECT CASE
                    WHEN w.msg ->> '$.event_type' = 'best_bid_ask' THEN [w.msg]
                    WHEN w.msg ->> '$.event_type' <> 'price_change' THEN []
                    WHEN json_type(w.msg -> '$.price_changes') = 'ARRAY'
                    THEN from_json(w.msg -> '$.price_changes', '["json"]')
                    ELSE from_json(w.msg -> '$.changes', '["json"]') END AS x)) AS u
          WHERE item_token = w.token_id AND NOT EXISTS (
                    SELECT 1 FROM engine_marks AS r
                    WHERE r.kind = 'frame_rejected' AND r.shard = w.shard
                      AND r.cause_seq = w.seq AND (r.element IS NULL OR r.element = w.i)))
    WHERE key > since_key * 4294967296
    GROUP BY ALL
), rebuilt AS (  -- books that moved after their snapshot with no full venue top to trust last
    SELECT b.* FROM books AS b
    JOIN last_frames AS l USING (shard, day, token_id)
    LEFT JOIN witnesses AS w USING (shard, day, token_id)
    WHERE w.top IS NULL OR w.top['bid'] IS NULL OR w.top['ask'] IS NULL
), changes AS (  -- their price_change entries after the snapshot (legacy format too)
    SELECT e.shard, e.ts_recv_ns, r_key(e.seq, e.i) AS key, u.k,
           coalesce(u.ch ->> '$.asset_id', e.msg ->> '$.asset_id') AS token_id,
           upper(u.ch ->> '$.side') = 'BUY' AS is_bid,
           r_micros(u.ch ->> '$.price') AS price, r_micros(u.ch ->> '$.size') AS size
    FROM (SELECT f.shard, f.seq, f.ts_recv_ns, unnest(r_elements(f.j)) AS msg,
                 generate_subscripts(r_elements(f.j), 1) - 1 AS i
          -- only frames after the oldest snapshot to rebuild from (none when none is)
          FROM (SELECT shard, CAST(min(since_key) // 4294967296 AS BIGINT) AS first_seq
                FROM rebuilt GROUP BY shard) AS b
          JOIN frames AS f ON f.shard = b.shard AND f.seq >= b.first_seq
          WHERE contains(f.t, '"price_change"') AND list_bool_or(list_transform(
              (SELECT list(DISTINCT token_id) FROM rebuilt), lambda x: contains(f.t, x)))) AS e,
         (SELECT unnest(x) AS ch, generate_subscripts(x, 1) AS k
          FROM (SELECT CASE WHEN json_type(e.msg -> '$.price_changes') = 'ARRAY'
                            THEN from_json(e.msg -> '$.price_changes', '["json"]')
                            ELSE from_json(e.msg -> '$.changes', '["json"]') END AS x)) AS u
    WHERE e.msg ->> '$.event_type' = 'price_change' AND NOT EXISTS (
          SELECT 1 FROM engine_marks AS r
          WHERE r.kind = 'frame_rejected' AND r.shard = e.shard AND r.cause_seq = e.seq
            AND (r.element IS NULL OR r.element = e.i))
), tops AS (  -- best bid and ask of the usable books
    -- the venue's top of the last update, when it gave both sides: the engine checked it
    -- against its book (a disagreement breaks the book), so the book's top is that; the venue
    -- reports an empty side as bid 0 / ask 1
    SELECT b.shard, b.day, b.token_id, nullif(w.top['bid'], 0) AS bid,
           nullif(w.top['ask'], 1000000) AS ask
    FROM books AS b JOIN witnesses AS w USING (shard, day, token_id)
    WHERE w.top['bid'] IS NOT NULL AND w.top['ask'] IS NOT NULL
    UNION ALL  -- otherwise the levels: the snapshot's, then each price level's last size
    SELECT shard, day, token_id,
           max(price) FILTER (WHERE is_bid AND size > 0) AS bid,
           min(price) FILTER (WHERE NOT is_bid AND size > 0) AS ask
    FROM (SELECT b.shard, b.day, b.token_id, l.is_bid, l.price,
                 arg_max(l.size, l.key * 4294967296 + l.k) AS size
          FROM books AS b
          JOIN (SELECT shard, ts_recv_ns, key, token_id, is_bid, k, price, size
                FROM snapshot_levels
                UNION ALL
                SELECT shard, ts_recv_ns, key, token_id, is_bid, k, price, size
                FROM changes) AS l
            ON l.shard = b.shard AND l.token_id = b.token_id AND l.key >= b.since_key
           AND l.ts_recv_ns < b.end_ns
          WHERE NOT EXISTS (
              SELECT 1 FROM witnesses AS w
              WHERE w.shard = b.shard AND w.day = b.day AND w.token_id = b.token_id
                AND w.top['bid'] IS NOT NULL AND w.top['ask'] IS NOT NULL)
          GROUP BY ALL)
    GROUP BY ALL
), marks AS (  -- positions.py _mark: mid, else the one side there is, else the last fill
    SELECT h.shard, h.day, h.token_id,
           CASE WHEN t.bid IS NOT NULL AND t.ask IS NOT NULL THEN (t.bid + t.ask) // 2
                ELSE coalesce(t.bid, t.ask, h.price) END AS price,
           CASE WHEN t.bid IS NOT NULL AND t.ask IS NOT NULL THEN 'mid'
                WHEN t.bid IS NOT NULL THEN 'bid' WHEN t.ask IS NOT NULL THEN 'ask'
                WHEN h.price IS NOT NULL THEN 'last_fill' ELSE 'cost' END AS how
    FROM held AS h LEFT JOIN tops AS t USING (shard, day, token_id)
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
           CASE WHEN mk.price IS NULL THEN r_prorate(h.cost, rest, h.qty)
                ELSE r_floordiv(rest * mk.price, 1000000) END AS rest_value,
           all_set_value + rest_value - h.cost AS unrealized,
           CASE WHEN rest = 0 THEN 'set' ELSE mk.how END AS how
    FROM held AS h
    JOIN market_hedged AS m USING (shard, day, token_id)
    JOIN marks AS mk USING (shard, day, token_id)
    LEFT JOIN r_tokens AS t USING (shard, token_id)
    LEFT JOIN group_sets AS gs
      ON gs.shard = h.shard AND gs.day = h.day AND gs.group_id = t.group_id AND t.is_yes
), levels AS (
    SELECT shard, day, market_id, strategy, sum(qty) AS open_qty, sum(unrealized) AS unrealized,
           string_agg(DISTINCT how, '+' ORDER BY how) AS mark
    FROM valued GROUP BY ALL
)
SELECT day, market_id, strategy, coalesce(f.fills, 0) AS fills,
       CAST(coalesce(f.realized, 0) AS HUGEINT) AS realized_micros,
       CAST(coalesce(f.fees_collateral, 0) AS HUGEINT) AS fees_collateral_micros,
       CAST(coalesce(f.fees_shares, 0) AS HUGEINT) AS fees_shares_micros,
       CAST(coalesce(l.open_qty, 0) AS HUGEINT) AS open_qty_micros,
       CAST(coalesce(l.unrealized, 0) AS HUGEINT) AS unrealized_micros,
       r_usd(realized_micros) AS realized_usd, r_usd(unrealized_micros) AS unrealized_usd,
       l.mark
FROM flows AS f FULL JOIN levels AS l USING (shard, day, market_id, strategy)
ORDER BY day, market_id, strategy;
