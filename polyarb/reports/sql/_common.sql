-- Shared macros and tables of the reports (polyarb/reports/sql/*.sql). Run once per
-- connection, before any report, over the views of polyarb.reports.open_journal_db (one view
-- per kind). The r_* tables are computed here once (tables, not views: every report reads
-- them several times, and a view would re-read and re-parse the journal files each time). They
-- go into the connection's default database, a compressed in-memory one under `polyarb report`;
-- the CHECKPOINT after each compresses it (~10x less memory than DuckDB's uncompressed tables).
--
-- Conventions: money, prices and sizes are integers in micro-units (*_micros); times are
-- ts_recv_ns (integer ns since the Unix epoch, UTC) and `at` strings; every view keeps `shard`
-- (the journal root) since seqs are unique within one root only. Report windows come from the
-- variables since_ns / until_ns (NULL: unbounded), set by `polyarb report` or by hand:
--   SET VARIABLE since_ns = 1766793600000000000;

-- ---- macros ---------------------------------------------------------------------------------

CREATE OR REPLACE TEMP MACRO r_at(ts) AS
    strftime(make_timestamp(ts // 1000), '%Y-%m-%dT%H:%M:%S.%fZ');
CREATE OR REPLACE TEMP MACRO r_day(ts) AS CAST(make_timestamp(ts // 1000) AS DATE);
CREATE OR REPLACE TEMP MACRO r_in_window(ts) AS
    ts >= coalesce(getvariable('since_ns'), -9223372036854775807)
    AND ts < coalesce(getvariable('until_ns'), 9223372036854775807);
-- Exact milliseconds (3 decimals) of a nanosecond duration (truncated to the microsecond).
CREATE OR REPLACE TEMP MACRO r_ms(ns) AS
    CAST(CAST(ns // 1000 AS DECIMAL(38, 3)) * CAST(0.001 AS DECIMAL(4, 3)) AS DECIMAL(18, 3));
-- Exact seconds (6 decimals) of a nanosecond duration (truncated to the microsecond).
CREATE OR REPLACE TEMP MACRO r_seconds(ns) AS
    CAST(CAST(ns // 1000 AS DECIMAL(38, 6)) * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6));
-- A decimal without trailing zeros (gate limits are exact dollars, counts or seconds).
CREATE OR REPLACE TEMP MACRO r_num(d) AS
    CASE WHEN d IS NULL THEN NULL
         WHEN contains(CAST(d AS VARCHAR), '.')
         THEN rtrim(rtrim(CAST(d AS VARCHAR), '0'), '.') ELSE CAST(d AS VARCHAR) END;
-- Exact dollars of micro-dollars: -15000 -> '-0.015000'.
CREATE OR REPLACE TEMP MACRO r_usd(m) AS
    CASE WHEN m IS NULL THEN NULL ELSE
    (CASE WHEN m < 0 THEN '-' ELSE '' END) || CAST(abs(m) // 1000000 AS VARCHAR) || '.'
    || lpad(CAST(abs(m) % 1000000 AS VARCHAR), 6, '0') END;
-- polyarb/core/exec_common.py: what we pay rounds up, what we receive rounds down; prorate
-- rounds toward zero (DuckDB's // truncates toward zero, like the core's abs-then-sign).
CREATE OR REPLACE TEMP MACRO r_cost_up(price, size) AS
    (CAST(price AS HUGEINT) * size + 999999) // 1000000;
CREATE OR REPLACE TEMP MACRO r_proceeds_down(price, size) AS
    (CAST(price AS HUGEINT) * size) // 1000000;
CREATE OR REPLACE TEMP MACRO r_floordiv(a, b) AS
    CASE WHEN a >= 0 THEN a // b ELSE -((-a + b - 1) // b) END;
CREATE OR REPLACE TEMP MACRO r_prorate(amount, part, whole) AS
    CASE WHEN part = whole THEN amount ELSE sign(amount) * (abs(amount) * part // whole) END;
-- A venue decimal text ("0.52", ".5", "1e-3", a JSON integer) in micros, exactly (NULL when it
-- is not a number); the engine rejects any value with more than 6 decimals, so none reaches here.
CREATE OR REPLACE TEMP MACRO r_micros(text) AS
    TRY_CAST(TRY_CAST(text AS DECIMAL(38, 6)) * 1000000 AS BIGINT);
-- The journal order of element i of the record at seq (decisions: i = 0, after their input).
CREATE OR REPLACE TEMP MACRO r_key(seq, i) AS CAST(seq AS HUGEINT) * 4294967296 + i;
-- The elements of a market frame: an array's items, or the one object (element index: from 0).
CREATE OR REPLACE TEMP MACRO r_elements(j) AS
    CASE WHEN json_type(j) = 'ARRAY' THEN from_json(j, '["json"]') ELSE [j] END;

-- ---- markets --------------------------------------------------------------------------------

-- Every market registration the engine accepted (a market_rejected for it at the same seq
-- means it was refused).
CREATE OR REPLACE TABLE r_registrations AS
SELECT l.shard, l.seq, l.ts_recv_ns, u.m ->> '$.condition_id' AS market_id, u.m AS info
FROM markets_loaded AS l, unnest(from_json(l.markets, '["json"]')) AS u(m)
WHERE NOT EXISTS (
    SELECT 1 FROM market_rejected AS r
    WHERE r.shard = l.shard AND r.cause_seq = l.seq
      AND r.condition_id = u.m ->> '$.condition_id');
CHECKPOINT;

-- token -> market (latest registration), its outcome, whether it is the market's YES token
-- (outcome "yes", else the first token: polyarb/core/positions.py), and the neg-risk group.
CREATE OR REPLACE TABLE r_tokens AS
WITH toks AS (
    SELECT g.shard, g.seq, g.market_id, t.i, t.tok.token_id AS token_id, t.tok.outcome AS outcome,
           CASE WHEN coalesce(CAST(g.info ->> '$.neg_risk' AS BOOLEAN), false)
                THEN g.info ->> '$.neg_risk_market_id' END AS group_id,
           coalesce(CAST(g.info ->> '$.neg_risk_augmented' AS BOOLEAN), false) AS augmented
    FROM r_registrations AS g,
         (SELECT unnest(x) AS tok, generate_subscripts(x, 1) AS i
          FROM (SELECT from_json(g.info -> '$.tokens',
                                 '[{"token_id":"VARCHAR","outcome":"VARCHAR"}]') AS x)) AS t
), yes AS (
    SELECT shard, seq, market_id,
           coalesce(min(token_id) FILTER (WHERE lower(outcome) = 'yes'),
                    min(token_id) FILTER (WHERE i = 1)) AS yes_token
    FROM toks GROUP BY ALL
)
SELECT DISTINCT ON (t.shard, t.token_id) t.shard, t.token_id, t.market_id, t.outcome,
       t.token_id = y.yes_token AS is_yes, t.group_id, t.augmented
FROM toks AS t JOIN yes AS y USING (shard, seq, market_id)
ORDER BY t.shard, t.token_id, t.seq DESC;
CHECKPOINT;

-- Each market's first resolution with a winner among its tokens: a markets_loaded carrying
-- winning_token_id, or a market_resolved message on the feed (for a market registered before
-- it, in an element the parser did not reject).
CREATE OR REPLACE TABLE r_resolutions AS
WITH feed AS (
    SELECT f.shard, f.seq, f.ts_recv_ns, e.i, e.msg
    FROM (SELECT * FROM raw_frame  -- a text search first: most frames are book updates
          WHERE channel = 'market' AND frame IS NOT NULL
            AND contains(CAST(frame AS VARCHAR), 'market_resolved')) AS f,
         (SELECT unnest(x) AS msg, generate_subscripts(x, 1) - 1 AS i
          FROM (SELECT CASE WHEN json_type(f.frame) = 'ARRAY'
                            THEN from_json(f.frame, '["json"]') ELSE [f.frame] END AS x)) AS e
    WHERE e.msg ->> '$.event_type' = 'market_resolved'
), candidates AS (
    SELECT shard, seq, ts_recv_ns, market_id, info ->> '$.winning_token_id' AS winner,
           'markets_loaded' AS source
    FROM r_registrations
    WHERE info ->> '$.winning_token_id' IN (
        SELECT unnest(from_json(info -> '$.tokens', '[{"token_id":"VARCHAR"}]')).token_id)
    UNION ALL
    SELECT f.shard, f.seq, f.ts_recv_ns, f.msg ->> '$.market', f.msg ->> '$.winning_asset_id',
           'feed'
    FROM feed AS f
    WHERE NOT EXISTS (
              SELECT 1 FROM frame_rejected AS r
              WHERE r.shard = f.shard AND r.cause_seq = f.seq
                AND (r.element IS NULL OR r.element = f.i))
      AND EXISTS (
              SELECT 1 FROM r_registrations AS g JOIN r_tokens AS t
                  ON t.shard = g.shard AND t.market_id = g.market_id
              WHERE g.shard = f.shard AND g.market_id = f.msg ->> '$.market' AND g.seq < f.seq
                AND t.token_id = f.msg ->> '$.winning_asset_id')
)
SELECT DISTINCT ON (shard, market_id) shard, market_id, seq, ts_recv_ns, winner, source
FROM candidates
ORDER BY shard, market_id, seq;
CHECKPOINT;

-- ---- orders and fills -------------------------------------------------------------------------

-- Every order we decided to send: legs (place_orders) and unwind orders, with the opportunity
-- and strategy they belong to and the venue id the venue gave them (order_accepted).
CREATE OR REPLACE TABLE r_orders AS
WITH intents AS (
    SELECT p.shard, p.seq, p.ts_recv_ns, p.cause_seq, p.opp_id, p.batch_id, 'leg' AS role,
           unnest(from_json(p.orders, '[{"client_order_id":"VARCHAR","token_id":"VARCHAR",
               "side":"VARCHAR","price_micros":"BIGINT","size_micros":"BIGINT",
               "order_type":"VARCHAR"}]')) AS o
    FROM place_orders AS p
    UNION ALL
    SELECT u.shard, u.seq, u.ts_recv_ns, u.cause_seq, u.opp_id, NULL, u.action,
           unnest(from_json(u.orders, '[{"client_order_id":"VARCHAR","token_id":"VARCHAR",
               "side":"VARCHAR","price_micros":"BIGINT","size_micros":"BIGINT",
               "order_type":"VARCHAR"}]'))
    FROM unwind AS u
), accepted AS (
    SELECT shard, client_order_id, arg_max(venue_order_id, seq) AS venue_order_id,
           min(seq) AS accepted_seq, min(ts_recv_ns) AS accepted_ns
    FROM order_accepted GROUP BY ALL
)
SELECT i.shard, i.o.client_order_id AS client_order_id, a.venue_order_id, i.opp_id, i.batch_id,
       i.role, d.strategy, d.market_id AS opp_market_id, i.seq AS decision_seq,
       i.ts_recv_ns AS decision_ns, i.cause_seq, i.o.token_id AS token_id, i.o.side AS side,
       i.o.price_micros AS price_micros, i.o.size_micros AS size_micros,
       i.o.order_type AS order_type, a.accepted_seq, a.accepted_ns
FROM intents AS i
LEFT JOIN accepted AS a ON a.shard = i.shard AND a.client_order_id = i.o.client_order_id
LEFT JOIN opportunity_detected AS d ON d.shard = i.shard AND d.opp_id = i.opp_id;
CHECKPOINT;

-- Our fills as the engine books them (polyarb/core/trades.py): trade events that pass the
-- engine's checks, deduplicated by trade id; the first event of a trade books the fill unless
-- it is FAILED; the first FAILED after it voids the fill, unless CONFIRMED came first.
CREATE OR REPLACE TABLE r_fills AS
WITH valid AS (
    SELECT *, row_number() OVER (PARTITION BY shard, trade_id ORDER BY seq) AS n
    FROM trade_updated
    WHERE size_micros > 0 AND price_micros > 0 AND price_micros <= 1000000 AND fee_micros >= 0
      AND NOT (side = 'BUY' AND fee_micros > size_micros)
), booked AS (
    SELECT * FROM valid WHERE n = 1 AND status <> 'FAILED'
), later AS (
    SELECT b.shard, b.trade_id,
           min(v.seq) FILTER (WHERE v.status = 'FAILED' AND v.seq > b.seq) AS failed_seq,
           min(v.seq) FILTER (WHERE v.status = 'CONFIRMED') AS confirmed_seq,
           arg_max(v.status, v.seq) FILTER (WHERE v.status IN ('MINED', 'RETRYING'))
               AS mined_status
    FROM booked AS b JOIN valid AS v USING (shard, trade_id)
    GROUP BY ALL
), venue_ids AS (
    SELECT shard, venue_order_id, arg_max(client_order_id, accepted_seq) AS client_order_id
    FROM r_orders WHERE venue_order_id IS NOT NULL GROUP BY ALL
)
SELECT b.shard, b.seq, b.ts_recv_ns, b.trade_id, b.venue_order_id, o.client_order_id,
       o.opp_id, o.strategy, o.role, coalesce(t.market_id, b.token_id) AS market_id,
       b.token_id, b.side, b.price_micros, b.size_micros, b.fee_micros, b.trader_side,
       CASE WHEN b.side = 'BUY' THEN r_cost_up(b.price_micros, b.size_micros)
            ELSE r_proceeds_down(b.price_micros, b.size_micros) END AS notional_micros,
       CASE WHEN l.failed_seq IS NOT NULL
                 AND (l.confirmed_seq IS NULL OR l.confirmed_seq > l.failed_seq)
            THEN l.failed_seq END AS void_seq,
       (SELECT v.ts_recv_ns FROM valid AS v
        WHERE v.shard = b.shard AND v.seq = void_seq) AS void_ns,
       CASE WHEN void_seq IS NOT NULL THEN 'FAILED'
            WHEN l.confirmed_seq IS NOT NULL THEN 'CONFIRMED'
            ELSE coalesce(l.mined_status, 'MATCHED') END AS settlement
FROM booked AS b
JOIN later AS l USING (shard, trade_id)
LEFT JOIN venue_ids AS v ON v.shard = b.shard AND v.venue_order_id = b.venue_order_id
LEFT JOIN r_orders AS o ON o.shard = b.shard AND o.client_order_id = v.client_order_id
LEFT JOIN r_tokens AS t ON t.shard = b.shard AND t.token_id = b.token_id;
CHECKPOINT;

-- ---- positions and P&L -----------------------------------------------------------------------

-- What changes a token's position, in seq order: fills (quantity and cash as
-- polyarb/core/positions.py books them: a BUY fee is shares withheld, a SELL fee collateral),
-- voids of fills, and the settlement of a resolved market.
CREATE OR REPLACE TABLE r_position_events AS
SELECT shard, token_id, seq, ts_recv_ns, 'fill' AS kind, trade_id, strategy,
       CAST(NULL AS BOOLEAN) AS is_winner, price_micros,
       CASE WHEN side = 'BUY' THEN CAST(size_micros AS HUGEINT) - fee_micros
            ELSE -CAST(size_micros AS HUGEINT) END AS dq,
       CASE WHEN side = 'BUY' THEN r_cost_up(price_micros, size_micros)
            ELSE fee_micros - r_proceeds_down(price_micros, size_micros) END AS cash,
       CAST(CASE WHEN side = 'BUY' THEN fee_micros ELSE 0 END AS HUGEINT) AS fee_shares,
       CAST(CASE WHEN side = 'SELL' THEN fee_micros ELSE 0 END AS HUGEINT) AS fee_collateral
FROM r_fills
UNION ALL
SELECT shard, token_id, void_seq, void_ns, 'void', trade_id, strategy, NULL, NULL, 0, 0, 0, 0
FROM r_fills WHERE void_seq IS NOT NULL
UNION ALL
SELECT t.shard, t.token_id, r.seq, r.ts_recv_ns, 'settle', NULL, NULL, t.token_id = r.winner,
       NULL, 0, 0, 0, 0
FROM r_resolutions AS r JOIN r_tokens AS t USING (shard, market_id)
WHERE EXISTS (SELECT 1 FROM r_fills AS f WHERE f.shard = t.shard AND f.token_id = t.token_id);
CHECKPOINT;

-- Each token's events ranked for the step-by-step fold below. `voided`: a fill that is voided
-- later, the only fills whose booked effect the fold keeps.
CREATE OR REPLACE TABLE r_position_ranked AS
SELECT e.*, row_number() OVER (PARTITION BY e.shard, e.token_id ORDER BY e.seq) AS rn,
       e.kind = 'fill' AND EXISTS (
           SELECT 1 FROM r_fills AS f
           WHERE f.shard = e.shard AND f.trade_id = e.trade_id AND f.void_seq IS NOT NULL)
           AS voided
FROM r_position_events AS e;
CHECKPOINT;

-- The average-cost position of every token after each of its events (positions.py rules 1-4,
-- step by step): quantity, cost basis, the realized P&L and fees the event booked, the last
-- fill price, and the strategy the event's P&L is attributed to (a fill's or void's own; a
-- settlement's: the token's last fill's). `booked` holds what each later-voided fill booked, so
-- its void takes exactly that back (only those fills: a map of every fill was copied, growing, at
-- every step).
CREATE OR REPLACE TABLE r_position_steps AS
WITH RECURSIVE ev AS (
    SELECT * FROM r_position_ranked
), steps AS (
    SELECT shard, token_id, 0 AS rn, CAST(NULL AS BIGINT) AS seq,
           CAST(NULL AS BIGINT) AS ts_recv_ns, 'start' AS kind,
           CAST(0 AS HUGEINT) AS qty, CAST(0 AS HUGEINT) AS cost, CAST(0 AS HUGEINT) AS realized,
           CAST(0 AS HUGEINT) AS fees_shares, CAST(0 AS HUGEINT) AS fees_collateral,
           false AS resolved, false AS winner, CAST(NULL AS BIGINT) AS last_price,
           CAST(NULL AS VARCHAR) AS strategy, CAST(NULL AS VARCHAR) AS attributed,
           MAP {}::MAP(VARCHAR, STRUCT(qty HUGEINT, cost HUGEINT, realized HUGEINT,
                                        fs HUGEINT, fc HUGEINT)) AS booked
    FROM (SELECT DISTINCT shard, token_id FROM ev)
    UNION ALL
    SELECT shard, token_id, rn, seq, ts_recv_ns, kind, n_qty, n_cost, n_realized, n_fees_shares,
           n_fees_collateral, n_resolved, n_winner, n_last_price, n_strategy, n_attributed,
           n_booked
    FROM (  -- computed names start with n_: an unqualified name binds to a column first
        SELECT e.shard, e.token_id, e.rn, e.seq, e.ts_recv_ns, e.kind, s.qty AS q0,
               s.cost AS c0,
               -- the event itself: positions.py _trade for a fill, its booked effect for a void
               CASE WHEN e.kind = 'void' THEN s.booked[e.trade_id] END AS b,
               least(abs(e.dq), abs(s.qty)) AS closing,
               e.kind = 'fill' AND e.dq <> 0 AND s.qty <> 0 AND (s.qty > 0) <> (e.dq > 0)
                   AS reduces,
               CASE WHEN reduces THEN r_prorate(e.cash, closing, abs(e.dq)) ELSE 0 END
                   AS cash_close,
               CASE WHEN reduces THEN r_prorate(s.cost, closing, abs(s.qty)) ELSE 0 END
                   AS cost_removed,
               CASE WHEN e.kind = 'fill' AND e.dq = 0 THEN 0
                    WHEN e.kind = 'fill' THEN e.cash - cash_close - cost_removed
                    WHEN e.kind = 'void' THEN -b['cost'] ELSE 0 END AS d_cost,
               CASE WHEN e.kind = 'fill' AND e.dq = 0 THEN -e.cash
                    WHEN e.kind = 'fill' THEN -cash_close - cost_removed
                    WHEN e.kind = 'void' THEN -b['realized'] ELSE 0 END AS d_real,
               s.qty + CASE e.kind WHEN 'fill' THEN e.dq WHEN 'void' THEN -b['qty'] ELSE 0 END
                   AS q1,
               s.cost + d_cost AS c1,
               s.resolved OR e.kind = 'settle' AS n_resolved,
               CASE WHEN e.kind = 'settle' THEN e.is_winner ELSE s.winner END AS n_winner,
               -- then the settlement of a resolved market (at once for anything after it)
               CASE WHEN n_resolved AND NOT (q1 = 0 AND c1 = 0)
                    THEN (CASE WHEN n_winner THEN q1 ELSE 0 END) - c1 ELSE 0 END AS settled,
               CASE WHEN n_resolved THEN 0 ELSE q1 END AS n_qty,
               CASE WHEN n_resolved THEN 0 ELSE c1 END AS n_cost,
               d_real + settled AS n_realized,
               CASE e.kind WHEN 'fill' THEN e.fee_shares WHEN 'void' THEN -b['fs'] ELSE 0 END
                   AS n_fees_shares,
               CASE e.kind WHEN 'fill' THEN e.fee_collateral WHEN 'void' THEN -b['fc'] ELSE 0
                   END AS n_fees_collateral,
               CASE WHEN e.kind = 'fill' THEN e.price_micros ELSE s.last_price END AS n_last_price,
               CASE WHEN e.kind = 'fill' THEN e.strategy ELSE s.strategy END AS n_strategy,
               CASE WHEN e.kind = 'settle' THEN s.strategy ELSE e.strategy END AS n_attributed,
               CASE WHEN e.voided
                    THEN map_concat(s.booked, MAP {e.trade_id: {
                        'qty': n_qty - q0, 'cost': n_cost - c0, 'realized': n_realized,
                        'fs': e.fee_shares, 'fc': e.fee_collateral}})
                    ELSE s.booked END AS n_booked
        FROM steps AS s JOIN ev AS e
          ON e.shard = s.shard AND e.token_id = s.token_id AND e.rn = s.rn + 1
    )
)
SELECT s.shard, s.token_id, coalesce(t.market_id, s.token_id) AS market_id, s.rn, s.seq,
       s.ts_recv_ns, s.kind, s.qty, s.cost, s.realized, s.fees_shares, s.fees_collateral,
       s.resolved, s.last_price, s.strategy, coalesce(s.attributed, 'unattributed') AS attributed
FROM steps AS s LEFT JOIN r_tokens AS t USING (shard, token_id)
WHERE s.rn > 0;
CHECKPOINT;
