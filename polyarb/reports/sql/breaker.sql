-- breaker: when did the circuit breaker change state, why, and for how long did each state
-- last?
--
-- One row per breaker_transitioned in the window, in order. Limits and observed values are
-- exact, in the gate's unit (docs/core.md, "Breaker": dollars, counts or seconds).
--
-- Columns:
--   seq, at            the transition
--   from_state, to_state  ACTIVE, REDUCING or HALTED
--   gate               the trip that caused it (operator_resume for a resume)
--   gate_limit, gate_observed  the configured limit and the value that crossed it
--   reason             the engine's words (other armed or released trips)
--   held_seconds       how long from_state lasted (since the previous transition; NULL for
--                      the first one of the journal)
--   cause_seq, cause_kind  the input that caused it
SELECT t.seq, r_at(t.ts_recv_ns) AS at, t.from_state, t.to_state, t.gate,
       r_num(t."limit") AS gate_limit, r_num(t.observed) AS gate_observed, t.reason,
       r_seconds(t.ts_recv_ns - lag(t.ts_recv_ns) OVER (PARTITION BY t.shard ORDER BY t.seq))
           AS held_seconds,
       t.cause_seq, e.kind AS cause_kind
FROM breaker_transitioned AS t
LEFT JOIN (  -- only the causes (a mark join: see latency.sql; a plain join hashed every record)
    SELECT shard, seq, kind FROM events
    WHERE coalesce(seq IN (SELECT cause_seq FROM breaker_transitioned), false)) AS e
  ON e.shard = t.shard AND e.seq = t.cause_seq
QUALIFY r_in_window(t.ts_recv_ns)
ORDER BY t.shard, t.seq;
