-- pnl_curve (for `polyarb report pnl --chart`): the equity curve, one point per event that
-- realized P&L, in the window.
--
-- Columns:
--   ts_recv_ns        when
--   realized_micros   what the event realized
--   cumulative_micros realized P&L since the start of the window, after the event
SELECT ts_recv_ns, CAST(realized_micros AS HUGEINT) AS realized_micros,
       CAST(sum(realized_micros) OVER (ORDER BY ts_recv_ns, shard, seq) AS HUGEINT)
           AS cumulative_micros
FROM (SELECT shard, seq, ts_recv_ns, sum(realized) AS realized_micros
      FROM r_position_steps WHERE r_in_window(ts_recv_ns) AND realized <> 0
      GROUP BY ALL)
ORDER BY ts_recv_ns, shard, seq;
