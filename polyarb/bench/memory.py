# Engine memory: RSS of a real Engine holding N tokens (N/2 binary markets) with `levels` price
# levels per side in every book, for `polyarb bench memory`.
#
# Rules:
# 1. Measured in a fresh subprocess (`python -m polyarb.bench.memory`), so nothing the parent
#    imported or allocated is counted. The baseline RSS is taken after polyarb's engine modules
#    are imported; the loaded RSS after the books are built and gc.collect() ran.
# 2. Built through the real path: MarketsLoaded, then one `book` snapshot frame per token as a
#    RawFrame through Engine.apply (parsing included), frames made one at a time and dropped so
#    only the engine's state stays alive.
# 3. Deterministic books that never cross and hold no arbitrage: tick 0.001, bids at
#    0.490 - k/1000 and asks at 0.510 + k/1000 on both tokens (asks sum 1.02, bids 0.98);
#    sizes differ per level and token, as real sizes do (no shared size strings).
# 4. A profile (tracemalloc, in a second subprocess, since tracing inflates RSS) says where the
#    memory goes: the top allocation sites by size. It runs when RSS is above the target, or
#    when asked.
from __future__ import annotations

import argparse
import gc
import importlib
import json
import linecache
import subprocess
import sys
from pathlib import Path
from typing import Any

TARGET_MB = 500.0
MAX_LEVELS = 480  # rule 3: 0.490 - k/1000 stays above 0.001 (and asks below 0.999)
_TICK_MICROS = 1_000
_TS0_NS = 1_766_793_600_000_000_000
_MB = 1_000_000


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc), else its peak (getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def token_id(i: int) -> str:
    """A 77-digit token id like the venue's (deterministic in i)."""
    return str(10**76 + i * 7_919_000_017)


def book_frame(condition_id: str, tok: str, index: int, levels: int) -> bytes:
    """One `book` snapshot with `levels` levels per side (rule 3), as the venue sends it."""
    def lvl(ticks: int) -> str:
        size = 100 + (index * 7_919 + ticks * 104_729) % 900_000
        return f'{{"price":"0.{ticks:03d}","size":"{size // 100}.{size % 100:02d}"}}'

    bids = ",".join(lvl(490 - k) for k in reversed(range(levels)))  # venue order: best last
    asks = ",".join(lvl(510 + k) for k in reversed(range(levels)))
    return (f'{{"market":"{condition_id}","asset_id":"{tok}","timestamp":"{index}",'
            f'"hash":"{index:040x}","bids":[{bids}],"asks":[{asks}],"event_type":"book",'
            f'"tick_size":"0.001"}}').encode()


def load_engine(tokens: int, levels: int) -> Any:
    """An Engine holding `tokens` tokens with `levels` levels per side (rules 2-3)."""
    import msgspec

    from polyarb.core.engine import Engine
    from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame, TokenInfo

    if not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be between 1 and {MAX_LEVELS}")
    pairs = [(f"0x{m:064x}", token_id(2 * m), token_id(2 * m + 1)) for m in range(tokens // 2)]
    infos = tuple(MarketInfo(condition_id=cid, tokens=(TokenInfo(token_id=y, outcome="Yes"),
                                                       TokenInfo(token_id=n, outcome="No")),
                             tick_size_micros=_TICK_MICROS, min_order_size_micros=5_000_000)
                  for cid, y, n in pairs)
    engine = Engine()
    engine.apply(1, MarketsLoaded(ts_recv_ns=_TS0_NS, source="bench", markets=infos))
    seq = 1
    for cid, yes, no in pairs:
        for tok in (yes, no):
            seq += 1
            frame = msgspec.Raw(book_frame(cid, tok, seq, levels))
            engine.apply(seq, RawFrame(ts_recv_ns=_TS0_NS + seq, conn="market-0", frame=frame))
    return engine


def _site(trace: Any) -> dict[str, str]:
    """An allocation site: file:line (under polyarb/ when it is ours) and its source line."""
    frame = trace[0]
    name = frame.filename
    cut = name.rfind("polyarb/")
    code = linecache.getline(name, frame.lineno).strip()
    return {"where": f"{name[cut:] if cut >= 0 else Path(name).name}:{frame.lineno}",
            "code": code[:70]}


def _held(engine: Any) -> tuple[int, int]:
    """(live books, levels in them): proof the snapshots were applied, not rejected."""
    live = [b for b in engine.md.books.values() if b.live]
    return len(live), sum(len(b.bids_descending()) + len(b.asks_ascending()) for b in live)


def measure(tokens: int, levels: int, profile: bool, top: int = 12) -> dict[str, Any]:
    """In this process: baseline RSS, build the engine, loaded RSS (and the profile if asked)."""
    import tracemalloc

    # Imported before the baseline (rule 1): their code is not the engine's data.
    importlib.import_module("polyarb.core.engine")

    gc.collect()
    base = rss_bytes()
    if profile:
        tracemalloc.start()
    engine = load_engine(tokens, levels)
    gc.collect()
    out: dict[str, Any] = {"baseline_rss": base, "loaded_rss": rss_bytes()}
    if profile:
        stats = tracemalloc.take_snapshot().statistics("lineno")
        tracemalloc.stop()
        out["traced_bytes"] = sum(s.size for s in stats)
        out["top"] = [{**_site(s.traceback), "bytes": s.size, "blocks": s.count}
                      for s in stats[:top]]
    out["live_books"], out["levels_held"] = _held(engine)  # counted after the readings
    return out


def _child(tokens: int, levels: int, profile: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "polyarb.bench.memory", "--tokens", str(tokens),
           "--levels", str(levels), *(["--profile"] if profile else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child exited {proc.returncode}: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout))


def run_memory(tokens: int = 10_000, levels: int = 20, profile: bool | None = None
               ) -> dict[str, Any]:
    """Measure in a fresh subprocess (rule 1); profile when over the target or asked (rule 4).

    Args:
        tokens: tokens to hold (tokens // 2 binary markets; at least 2).
        levels: price levels per side in every book.
        profile: True always, False never, None only when RSS is above the target.

    Returns:
        tokens, levels, baseline_mb, loaded_mb, delta_mb, bytes_per_level, target_mb,
        live_books and levels_held (what the engine really holds), and `profile` (traced_mb
        and the top allocation sites) when profiled, else None.
    """
    if tokens < 2:
        raise ValueError("tokens must be at least 2 (one binary market)")
    if not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be between 1 and {MAX_LEVELS}")
    got = _child(tokens, levels, False)
    tokens = tokens // 2 * 2
    delta = got["loaded_rss"] - got["baseline_rss"]
    result: dict[str, Any] = {
        "tokens": tokens, "levels": levels, "baseline_mb": round(got["baseline_rss"] / _MB, 1),
        "loaded_mb": round(got["loaded_rss"] / _MB, 1), "delta_mb": round(delta / _MB, 1),
        "bytes_per_level": round(delta / (tokens * levels * 2), 1), "target_mb": TARGET_MB,
        "live_books": got["live_books"], "levels_held": got["levels_held"], "profile": None,
    }
    if profile or (profile is None and got["loaded_rss"] > TARGET_MB * _MB):
        prof = _child(tokens, levels, True)
        result["profile"] = {"traced_mb": round(prof["traced_bytes"] / _MB, 1),
                             "top": [{**t, "mb": round(t["bytes"] / _MB, 2)}
                                     for t in prof["top"]]}
    return result


def render(r: dict[str, Any]) -> str:
    """The text report, the target next to the measured value."""
    lines = [
        f"engine RSS      {r['loaded_mb']:,.1f} MB  (target <= {r['target_mb']:.0f} MB at "
        f"10,000 tokens x 20 levels)  for {r['tokens']:,} tokens x {r['levels']} levels/side",
        f"baseline RSS    {r['baseline_mb']:,.1f} MB  (python + polyarb imported)",
        f"delta           {r['delta_mb']:,.1f} MB  = {r['bytes_per_level']:,.0f} bytes per level "
        f"({r['live_books']:,} live books holding {r['levels_held']:,} levels)",
    ]
    prof = r["profile"]
    if prof is not None:
        lines.append(f"profile         {prof['traced_mb']:,.1f} MB traced; top allocation sites:")
        lines += [f"  {t['mb']:9.2f} MB  {t['blocks']:>10,} blocks  {t['where']}  {t['code']}"
                  for t in prof["top"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The child: measure once and print one JSON object (rule 1)."""
    parser = argparse.ArgumentParser(description="Child process of `polyarb bench memory`.")
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--levels", type=int, required=True)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.tokens, args.levels, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
