-- audit: the causal chain of one order, from the market data that triggered it to its fills
-- and their settlement. The order is named by its client or venue order id in the variable
-- order_id (`polyarb report audit ORDER_ID` sets it; by hand: SET VARIABLE order_id = 'run-o1').
--
-- Links followed: the order's decision (place_orders or unwind) and the input that caused it
-- (cause_seq); its opportunity and that opportunity's trigger; the venue's answer (by client
-- id); every user-channel event on its venue id (order updates, trades and their settlement,
-- cancellations); cancel_orders naming it; and the decisions those venue events caused
-- (unwinds, cancels, breaker transitions). The window variables do not apply.
--
-- Columns:
--   seq, at       the record
--   kind          its kind
--   relation      why it is in the chain (several when it plays several parts)
--   cause_seq     for a decision, the input that caused it
--   summary       the record's main fields, in words
WITH target AS (
    SELECT * FROM r_orders
    WHERE client_order_id = getvariable('order_id') OR venue_order_id = getvariable('order_id')
), venue AS (
    -- Every scan of `events` keeps only the records it needs before a join (mark joins,
    -- `coalesce(x IN (...), false)`): DuckDB guesses ~42 rows per NDJSON segment, and a plain
    -- join hashed every record of the journal with all its columns (10 GB at 10M events).
    SELECT e.shard, e.seq, CASE WHEN e.kind = 'trade_updated' THEN 'fill / settlement'
                                ELSE 'venue: ' || replace(e.kind, '_', ' ') END AS relation
    FROM (SELECT shard, seq, kind, client_order_id, venue_order_id FROM events
          WHERE coalesce(client_order_id IN (SELECT client_order_id FROM target), false)
             OR coalesce(venue_order_id IN (SELECT venue_order_id FROM target), false)) AS e
    JOIN target AS t ON e.shard = t.shard
    WHERE (e.kind IN ('order_accepted', 'order_rejected', 'order_outcome_unknown',
                      'order_cancelled') AND e.client_order_id = t.client_order_id)
       OR (e.kind IN ('order_updated', 'trade_updated', 'order_cancelled', 'cancel_failed')
           AND e.venue_order_id = t.venue_order_id)
), chain AS (
    SELECT shard, decision_seq AS seq, 'the order (' || role || ')' AS relation FROM target
    UNION ALL SELECT shard, cause_seq, 'trigger of the order' FROM target
    UNION ALL
    SELECT d.shard, d.seq, 'its opportunity' FROM opportunity_detected AS d
    JOIN target AS t ON d.shard = t.shard AND d.opp_id = t.opp_id
    UNION ALL
    SELECT d.shard, d.cause_seq, 'trigger of the opportunity' FROM opportunity_detected AS d
    JOIN target AS t ON d.shard = t.shard AND d.opp_id = t.opp_id
    UNION ALL SELECT shard, seq, relation FROM venue
    UNION ALL
    SELECT c.shard, c.seq, 'cancel decision' FROM cancel_orders AS c
    JOIN target AS t ON c.shard = t.shard
    WHERE list_contains(from_json(c.client_order_ids, '["VARCHAR"]'), t.client_order_id)
    UNION ALL
    SELECT e.shard, e.seq, 'caused by a venue event of the order'
    FROM (SELECT shard, seq, cause_seq FROM events
          WHERE coalesce(cause_seq IN (SELECT seq FROM venue), false)) AS e
    JOIN venue AS v ON e.shard = v.shard AND e.cause_seq = v.seq
)
SELECT e.seq, r_at(e.ts_recv_ns) AS at, e.kind,
       string_agg(DISTINCT c.relation, '; ' ORDER BY c.relation) AS relation, e.cause_seq,
       CASE e.kind
           WHEN 'raw_frame' THEN e.conn || ': ' || left(coalesce(CAST(e.frame AS VARCHAR),
                                                                 e.text), 160)
           WHEN 'opportunity_detected' THEN format('{} {} on {}: size {} cost {} edge {}',
               e.opp_id, e.strategy, e.market_id, e.size_micros, e.cost_micros, e.edge_micros)
           WHEN 'opportunity_blocked' THEN format('{} blocked by {}', e.opp_id, e.gate)
           WHEN 'place_orders' THEN format('{} for {}: {} order(s)', e.batch_id, e.opp_id,
                                           json_array_length(e.orders))
           WHEN 'unwind' THEN format('{} for {}: {}', e.action, e.opp_id, e.reason)
           WHEN 'cancel_orders' THEN format('cancel {}: {}',
               array_to_string(from_json(e.client_order_ids, '["VARCHAR"]'), ', '), e.reason)
           WHEN 'order_accepted' THEN format('{} -> venue id {} ({})', e.client_order_id,
                                             e.venue_order_id, e.status)
           WHEN 'order_rejected' THEN format('{} rejected: {}', e.client_order_id, e.reason)
           WHEN 'order_outcome_unknown' THEN format('{} unknown: {}', e.client_order_id,
                                                    e.reason)
           WHEN 'order_updated' THEN format('{} {}: matched {} of {}', e.update_type,
               e.status, e.size_matched_micros, e.original_size_micros)
           WHEN 'trade_updated' THEN format('trade {} {} {} @ {} fee {}: {}', e.trade_id,
               e.side, e.size_micros, e.price_micros, coalesce(e.fee_micros, 0), e.status)
           WHEN 'order_cancelled' THEN format('cancelled {}', coalesce(e.reason, ''))
           WHEN 'cancel_failed' THEN format('cancel failed: {}', e.reason)
           WHEN 'breaker_transitioned' THEN format('{} -> {} ({})', e.from_state, e.to_state,
                                                   e.gate)
           ELSE e.kind END AS summary
FROM chain AS c
JOIN (SELECT * FROM events WHERE coalesce(seq IN (SELECT seq FROM chain), false)) AS e
  ON e.shard = c.shard AND e.seq = c.seq
GROUP BY ALL
ORDER BY e.seq;
