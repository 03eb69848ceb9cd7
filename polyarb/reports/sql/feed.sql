-- feed: how healthy was the market data feed?
--
-- Sections (one row per subject):
--   connection  per websocket connection: sessions opened, how long they stayed up, reconnects
--   stale       per token: its book went stale (no update for max_feed_silence_ns of event
--               time) and how long until a snapshot restored it
--   continuity  per token and reason other than stale: the book could not be trusted (gap,
--               hash or best-price mismatch, crossed, tick size change) until a snapshot
--   rejected    per reason: frames, or elements of a frame array, the parser refused
-- Rows are counted in the window by the time of the event (a connection's open, a break).
--
-- Columns:
--   section, subject   as above (subject: connection id, token id, or the rejection reason)
--   events             sessions opened / breaks / rejected frames
--   first_at, last_at  first and last such event
--   seconds            total time connected / broken (restored breaks only), exact
--   detail             closes and reconnects / reasons and breaks never restored / seqs
WITH opened AS (
    SELECT shard, conn, seq, ts_recv_ns,
           (SELECT min(c.ts_recv_ns) FROM connection_closed AS c
            WHERE c.shard = o.shard AND c.conn = o.conn AND c.seq > o.seq) AS closed_ns
    FROM connection_opened AS o
), connections AS (
    SELECT 'connection' AS section, 1 AS n, o.conn AS subject, count(*) AS events,
           min(o.ts_recv_ns) AS first_ns, max(o.ts_recv_ns) AS last_ns,
           sum(o.closed_ns - o.ts_recv_ns) AS ns,
           format('closed {} time(s){}; reconnects {}',
                  (SELECT count(*) FROM connection_closed AS c
                   WHERE c.shard = o.shard AND c.conn = o.conn AND r_in_window(c.ts_recv_ns)),
                  coalesce((SELECT ', last: ' || arg_max(c.reason || coalesce(
                                ' (' || c.code || ')', ''), c.seq)
                            FROM connection_closed AS c
                            WHERE c.shard = o.shard AND c.conn = o.conn
                              AND r_in_window(c.ts_recv_ns)), ''),
                  (SELECT count(*) FROM reconnect_scheduled AS r
                   WHERE r.shard = o.shard AND r.conn = o.conn AND r_in_window(r.ts_recv_ns)))
               AS detail
    FROM opened AS o WHERE r_in_window(o.ts_recv_ns)
    GROUP BY o.shard, o.conn
), breaks AS (
    SELECT b.shard, b.token_id, b.reason, b.ts_recv_ns,
           (SELECT min(r.ts_recv_ns) FROM continuity_restored AS r
            WHERE r.shard = b.shard AND r.token_id = b.token_id AND r.seq > b.seq)
               AS restored_ns
    FROM continuity_broken AS b WHERE r_in_window(b.ts_recv_ns)
), books AS (
    SELECT CASE WHEN reason = 'stale' THEN 'stale' ELSE 'continuity' END AS section,
           CASE WHEN reason = 'stale' THEN 2 ELSE 3 END AS n, token_id AS subject,
           count(*) AS events, min(ts_recv_ns) AS first_ns, max(ts_recv_ns) AS last_ns,
           sum(restored_ns - ts_recv_ns) AS ns,
           format('{}{}', string_agg(DISTINCT reason, ', ' ORDER BY reason),
                  CASE WHEN count(*) > count(restored_ns)
                       THEN format('; {} never restored', count(*) - count(restored_ns))
                       ELSE '' END) AS detail
    FROM breaks GROUP BY shard, section, n, token_id
), rejected AS (
    SELECT 'rejected' AS section, 4 AS n, reason AS subject, count(*) AS events,
           min(ts_recv_ns) AS first_ns, max(ts_recv_ns) AS last_ns, NULL AS ns,
           format('seqs {}{}', string_agg(cause_seq, ', ' ORDER BY cause_seq)
                      FILTER (WHERE rn <= 5),
                  CASE WHEN count(*) > 5 THEN ', ...' ELSE '' END) AS detail
    FROM (SELECT *, row_number() OVER (PARTITION BY shard, reason ORDER BY seq) AS rn
          FROM frame_rejected WHERE r_in_window(ts_recv_ns))
    GROUP BY shard, reason
)
SELECT section, subject, events, r_at(first_ns) AS first_at, r_at(last_ns) AS last_at,
       r_seconds(ns) AS seconds, detail
FROM (SELECT * FROM connections UNION ALL BY NAME SELECT * FROM books
      UNION ALL BY NAME SELECT * FROM rejected)
ORDER BY n, subject;
