"""``scoreinv bench goals``: the project's targets checked against ``scoreinv bench tasks`` records.

For each (data set, task) in the records: scoreinv's default against the best classical baseline (PSNR), the
absolute targets (:data:`TARGETS`, full uncropped sets only), the DeepInverse peers (PSNR at a fraction of DPS's
NFE, compared only within the record that holds them) and LPIPS below every baseline and peer (the estimate and the
sample-target rows, each compared within its own record). Every figure is read from the records, never typed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scoreinv.errors import InputError

DPS = "deepinv-dps"
NFE_SHARE = 10  # the peer goal: scoreinv at ≤ 1/NFE_SHARE of DPS's network evaluations


@dataclass(frozen=True)
class Target:
    """A PSNR goal for scoreinv's default: at least ``psnr`` dB (with ``max_nfe``: at most that NFE), or at least
    ``margins`` dB over named baselines of the same record."""

    psnr: float | None = None
    max_nfe: int | None = None
    margins: tuple = ()


# The targets, on full uncropped sets: (data, task) → Target
TARGETS = {
    ("set12", "inpaint-random"): Target(psnr=30.5, max_nfe=100),
    ("set12", "deblur-gauss"): Target(psnr=27.0, max_nfe=100),
    ("set12", "sr4"): Target(psnr=26.5, max_nfe=100),
    ("ct-test", "ct-sparse"): Target(margins=(("fbp", 10.0), ("tv", 1.5))),
    ("ct-test", "ct-limited"): Target(margins=(("fbp", 10.0), ("tv", 1.5))),
}


@dataclass(frozen=True)
class Source:
    """One record as the goals see it: its label (the path given), data set, target, crop, limit, date, command,
    summary rows and per-task method settings."""

    label: str
    data: str
    target: str
    crop: int | None
    limit: int | None
    date: str
    command: str
    summary: tuple
    method_settings: dict


# Reading

def read_sources(paths) -> list:
    """The records at ``paths`` (results.json files or their folders) as Sources; one-line InputError for a missing
    or invalid file or a record without a summary.

    Args:
        paths: results.json files or folders holding one.
    """
    from scoreinv.bench.report import RESULTS_JSON, read_record

    sources = []
    for path in paths:
        file = Path(path) / RESULTS_JSON if Path(path).is_dir() else Path(path)
        if not file.is_file():
            raise InputError(f"{path}: " + ("no results.json in this folder" if Path(path).is_dir() else "no such file")
                             + " (give the results.json of 'scoreinv bench tasks')")
        sources.append(source_of(read_record(file), label=str(path)))
    return sources


def source_of(record: dict, *, label: str) -> Source:
    """A record of ``scoreinv bench tasks`` as a Source (records before --target and --crop count as "estimate" and
    uncropped); one-line InputError when it has no summary rows.

    Args:
        record: the parsed results.json.
        label: where it came from, shown in the tables.
    """
    summary, settings = record.get("summary"), record.get("settings")
    if not isinstance(summary, list) or not summary or not isinstance(settings, dict):
        raise InputError(f"{label}: the record has no summary rows (re-run or re-merge it with scoreinv bench)")
    for entry in summary:
        if not isinstance(entry, dict) or not {"task", "method", "kind"} <= set(entry):
            raise InputError(f"{label}: a summary row lacks task, method or kind")
    return Source(label=label, data=str(settings.get("data")), target=settings.get("target") or "estimate",
                  crop=settings.get("crop"), limit=settings.get("limit"), date=str(record.get("date", "")),
                  command=str(record.get("command", "")), summary=tuple(summary),
                  method_settings=record.get("method_settings") or {})


# Looking up rows

def entries(source: Source, task: str, kind: str) -> list:
    """The summary rows of ``task`` with method kind ``kind`` ("baseline", "scoreinv" or "peer")."""
    return [entry for entry in source.summary if entry["task"] == task and entry["kind"] == kind]


def scoreinv_row(source: Source, task: str) -> dict | None:
    """scoreinv's default row for ``task`` in ``source`` (None: none)."""
    return next((entry for entry in entries(source, task, "scoreinv") if entry.get("default")), None)


def best(rows: list, key: str, *, lowest: bool = False) -> dict | None:
    """The row with the highest (``lowest``: the lowest) non-null ``key``; None when there is none."""
    rows = [row for row in rows if row.get(key) is not None]
    if not rows:
        return None
    return (min if lowest else max)(rows, key=lambda row: row[key])


def choose(candidates: list) -> Source | None:
    """The most complete record: uncropped first, then the most images (the first given on ties); None for none.

    Args:
        candidates: (Source, images of its row) pairs.
    """
    return min(candidates, key=lambda c: (c[0].crop is not None, -c[1]))[0] if candidates else None


def full_set(source: Source) -> bool:
    """Whether ``source`` covers its whole data set at full size (no --crop, no --limit)."""
    return source.crop is None and source.limit is None


# The goals of one (data set, task)

def goal_rows(sources: list) -> list:
    """One dict per (data set, task) of the records, in their order of appearance: the records chosen (primary:
    estimate target, sample, peers), the rows compared from each (scoreinv, baseline, lpips_baseline;
    sample_scoreinv, sample_baseline; peer_scoreinv, peer, lpips_peer, dps) and its :class:`Target` (or None).

    Args:
        sources: the records (see :func:`source_of`).
    """
    keys = list(dict.fromkeys((s.data, e["task"]) for s in sources for e in s.summary))
    rows = []
    for data, task in keys:
        own = [(s, scoreinv_row(s, task)) for s in sources if s.data == data]
        own = [(s, row) for s, row in own if row is not None]
        estimate = choose([(s, row.get("images", 0)) for s, row in own if s.target == "estimate"])
        sample = choose([(s, row.get("images", 0)) for s, row in own if s.target == "sample"])
        with_peers = [(s, row.get("images", 0)) for s, row in own if entries(s, task, "peer")]
        peers = (estimate if estimate is not None and entries(estimate, task, "peer")
                 else choose([c for c in with_peers if c[0].target == "estimate"]) or choose(with_peers))
        sample_peers = choose([c for c in with_peers if c[0].target == "sample" and c[0] is not peers])
        row = {"data": data, "task": task, "primary": estimate, "sample": sample, "peers": peers,
               "sample_peers": sample_peers, "target": TARGETS.get((data, task))}
        for prefix, source in (("", estimate), ("sample_", sample), ("peer_", peers),
                               ("sample_peer_", sample_peers)):
            if source is not None:
                row[prefix + "scoreinv"] = scoreinv_row(source, task)
        if estimate is not None:
            row["baseline"] = best(entries(estimate, task, "baseline"), "psnr")
            row["lpips_baseline"] = best(entries(estimate, task, "baseline"), "lpips", lowest=True)
        if sample is not None:
            row["sample_baseline"] = best(entries(sample, task, "baseline"), "lpips", lowest=True)
        if peers is not None:
            row["peer"] = best(entries(peers, task, "peer"), "psnr")
            row["lpips_peer"] = best(entries(peers, task, "peer"), "lpips", lowest=True)
            row["dps"] = next((e for e in entries(peers, task, "peer") if e["method"] == DPS), None)
        if sample_peers is not None:
            row["lpips_sample_peer"] = best(entries(sample_peers, task, "peer"), "lpips", lowest=True)
        rows.append(row)
    return rows


def margin(ours: dict | None, theirs: dict | None, key: str) -> float | None:
    """ours − theirs for PSNR, theirs − ours for LPIPS (positive: scoreinv ahead); None when either is missing."""
    if ours is None or theirs is None or ours.get(key) is None or theirs.get(key) is None:
        return None
    return theirs[key] - ours[key] if key == "lpips" else ours[key] - theirs[key]


def verdict(lead: float | None, *, unit: str = " dB", digits: int = 2, strict: bool = False) -> str:
    """"met by +x.xx dB" when ``lead`` ≥ 0 (``strict``: > 0), else "missed by x.xx dB"; "n/a" for None.

    Args:
        lead: scoreinv's lead (positive: ahead).
        unit: appended to the figure.
        digits: decimals shown.
        strict: a tie misses.
    """
    if lead is None:
        return "n/a"
    if lead > 0 or (lead == 0 and not strict):
        return f"met by +{lead:.{digits}f}{unit}"
    return f"missed by {-lead:.{digits}f}{unit}"


def target_verdict(row: dict) -> str:
    """The absolute target's cell: the goal and met/missed, "n/a: …" off the full set, "–" without a target."""
    target, source, ours = row["target"], row["primary"], row.get("scoreinv")
    if target is None:
        return "–"
    goal = ", ".join(([f"≥ {target.psnr:.1f} dB"] if target.psnr is not None else [])
                     + [f"≥ {name} + {extra:.1f} dB" for name, extra in target.margins])
    goal += f" at ≤ {target.max_nfe} NFE" if target.max_nfe else ""
    if source is None or ours is None or ours.get("psnr") is None:
        return f"{goal}: n/a"
    if not full_set(source):
        return f"{goal}: n/a (" + (f"crop {source.crop}" if source.crop else f"first {source.limit} images") + ")"
    leads = [ours["psnr"] - target.psnr] if target.psnr is not None else []
    for name, extra in target.margins:
        other = next((e for e in entries(source, row["task"], "baseline") if e["method"] == name), None)
        if other is None or other.get("psnr") is None:
            return f"{goal}: n/a (no {name} row)"
        leads.append(ours["psnr"] - other["psnr"] - extra)
    if target.max_nfe and (ours.get("nfe") or 0) > target.max_nfe:
        return f"{goal}: missed ({ours['nfe']:.0f} NFE)"
    return f"{goal}: {verdict(min(leads))}"


def peer_verdict(row: dict) -> str:
    """The peer goal's cell: PSNR ≥ every peer's in the peers' record at ≤ 1/NFE_SHARE of DPS's NFE."""
    ours, peer, dps = row.get("peer_scoreinv"), row.get("peer"), row.get("dps")
    lead = margin(ours, peer, "psnr")
    if lead is None:
        return "–" if row["peers"] is None else "n/a"
    if dps is None or not dps.get("nfe"):
        return f"n/a: no {DPS} NFE (PSNR {verdict(lead)})"
    if lead < 0:
        return verdict(lead)
    share = (ours.get("nfe") or 0) / dps["nfe"]
    if share > 1 / NFE_SHARE:
        return f"missed: {share_text(ours.get('nfe') or 0, dps['nfe'])} of DPS's NFE (PSNR {verdict(lead)})"
    return f"{verdict(lead)} at {share_text(ours.get('nfe') or 0, dps['nfe'])} of DPS's NFE"


def share_text(nfe: float, dps_nfe: float) -> str:
    """scoreinv's NFE as a fraction of DPS's: "1/25" (to the nearest whole denominator) or "0"."""
    return "0" if nfe <= 0 else f"1/{dps_nfe / nfe:.0f}" if dps_nfe >= nfe else f"{nfe / dps_nfe:.1f}×"


def lpips_verdict(row: dict) -> str:
    """LPIPS below every baseline and peer: the better of the estimate and the sample row against its own
    record's lowest baseline, and the better of the peers' records (estimate and sample target) against their
    lowest peer; the tighter of the two."""
    def better(sides):
        sides = [side for side in sides if side[0] is not None]
        return [max(sides, key=lambda side: side[0])] if sides else []

    leads = better([(margin(row.get("scoreinv"), row.get("lpips_baseline"), "lpips"), "estimate",
                     row.get("lpips_baseline")),
                    (margin(row.get("sample_scoreinv"), row.get("sample_baseline"), "lpips"), "sample",
                     row.get("sample_baseline"))])
    leads += better([(margin(row.get("peer_scoreinv"), row.get("lpips_peer"), "lpips"), "peers' record",
                      row.get("lpips_peer")),
                     (margin(row.get("sample_peer_scoreinv"), row.get("lpips_sample_peer"), "lpips"),
                      "peers' sample record", row.get("lpips_sample_peer"))])
    if not leads:
        return "n/a"
    text = [f"{verdict(lead, unit='', digits=4, strict=True)} ({which} vs {other['method']})"
            for lead, which, other in sorted(leads, key=lambda side: side[0])]
    return text[0] + (f"; {text[1]}" if len(text) > 1 else "")


# Tables

def cell(entry: dict | None, key: str, *, digits: int = 2, unit: str = "", name: bool = True) -> str:
    """"name value" of a summary row (value with ``digits`` decimals), "–" for no row, "n/a" for a null value."""
    if entry is None:
        return "–"
    value = "n/a" if entry.get(key) is None else f"{entry[key]:.{digits}f}{unit}"
    return f"{entry['method']} {value}" if name else value


def describe(source: Source | None, row: dict | None, *, primary: Source | None = None) -> str:
    """Which record a comparison comes from: "same record", or its label with target, crop and images."""
    if source is None:
        return "–"
    if source is primary:
        return "same record"
    extras = [source.target] * (source.target != "estimate") + [f"crop {source.crop}"] * bool(source.crop)
    extras.append(f"{row.get('images', 'n/a')} images" if row else "")
    return f"{source.label} ({', '.join(e for e in extras if e)})"


def psnr_table(rows: list) -> str:
    """The PSNR goals, one line per (data set, task)."""
    lines = ["| data | task | images | scoreinv (default) | best baseline | ≥ best baseline | absolute target | "
             f"peers' record | best peer | scoreinv there | ≥ every peer at ≤ 1/{NFE_SHARE} of DPS's NFE |",
             "| --- | --- | ---: | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ours, there, peer, dps = (row.get(k) for k in ("scoreinv", "peer_scoreinv", "peer", "dps"))
        images = str(ours.get("images", "n/a")) if ours else "–"
        scoreinv = "no estimate-target scoreinv row" if ours is None else cell(ours, "psnr", unit=" dB") + nfe(ours)
        peer_cell = "–" if peer is None else cell(peer, "psnr", unit=" dB") + nfe(peer) + untuned(row, peer)
        there_cell = "–" if there is None or peer is None else cell(there, "psnr", unit=" dB", name=False) + (
            f", {share_text(there.get('nfe') or 0, dps['nfe'])} of DPS's NFE" if dps and dps.get("nfe") else "")
        lines.append("| " + " | ".join([
            row["data"], row["task"], images, scoreinv, cell(row.get("baseline"), "psnr", unit=" dB"),
            verdict(margin(ours, row.get("baseline"), "psnr")), target_verdict(row),
            describe(row["peers"], there, primary=row["primary"]), peer_cell, there_cell, peer_verdict(row)]) + " |")
    return "\n".join(lines)


def untuned(row: dict, peer: dict) -> str:
    """" (untuned)" when the peers' record says the peer ran with DeepInverse's defaults, else ""."""
    settings = row["peers"].method_settings.get(row["task"], {}).get(peer["method"], {})
    return " (untuned)" if str(settings.get("tuned_on", "")).startswith("not tuned") else ""


def nfe(entry: dict) -> str:
    """", N NFE" of a summary row ("" when it has none)."""
    return f", {entry['nfe']:.0f} NFE" if entry.get("nfe") else ""


def lpips_table(rows: list) -> str:
    """The LPIPS goals, one line per (data set, task)."""
    lines = ["| data | task | scoreinv estimate (images) | lowest baseline | scoreinv sample (record) | "
             "lowest baseline there | peers' record | scoreinv there | lowest peer | "
             "scoreinv sample beside the peers (record) | below every baseline and peer |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ours, sample, there = row.get("scoreinv"), row.get("sample_scoreinv"), row.get("peer_scoreinv")
        estimate = "–" if ours is None else f"{cell(ours, 'lpips', digits=4, name=False)} ({ours.get('images', 'n/a')})"
        sample_cell = "–" if sample is None else (f"{cell(sample, 'lpips', digits=4)} "
                                                  f"[{describe(row['sample'], sample)}]")
        has_peers = row.get("lpips_peer") is not None or row.get("peer") is not None
        lines.append("| " + " | ".join([
            row["data"], row["task"], estimate, cell(row.get("lpips_baseline"), "lpips", digits=4), sample_cell,
            cell(row.get("sample_baseline"), "lpips", digits=4),
            describe(row["peers"], there, primary=row["primary"]) if has_peers else "–",
            cell(there, "lpips", digits=4, name=False) if has_peers else "–",
            cell(row.get("lpips_peer"), "lpips", digits=4), sample_beside_peers(row), lpips_verdict(row)]) + " |")
    return "\n".join(lines)


def sample_beside_peers(row: dict) -> str:
    """"0.2000 vs deepinv-x 0.2500 [record]": the sample-target record with peers, its scoreinv draw against its
    lowest peer; "–" without such a record."""
    ours, peer = row.get("sample_peer_scoreinv"), row.get("lpips_sample_peer")
    if row.get("sample_peers") is None or ours is None:
        return "–"
    return (f"{cell(ours, 'lpips', digits=4, name=False)} vs {cell(peer, 'lpips', digits=4)} "
            f"[{describe(row['sample_peers'], ours)}]")


def goals_markdown(sources: list) -> str:
    """The Markdown printed by ``scoreinv bench goals``: the PSNR table, the LPIPS table and the records read.

    Args:
        sources: the records (see :func:`read_sources`).
    """
    rows = goal_rows(sources)
    records = "\n".join(f"- `{s.label}`: {s.data}, target {s.target}"
                        + (f", crop {s.crop}" if s.crop else "") + (f", first {s.limit} images" if s.limit else "")
                        + f"; {s.date}; `{s.command}`" for s in sources)
    return (f"PSNR in dB, scoreinv's default row against the best baseline of the same record.\n\n{psnr_table(rows)}"
            f"\n\nLPIPS, lower is better; each scoreinv row is compared with the rows of its own record.\n\n"
            f"{lpips_table(rows)}\n\nRecords:\n\n{records}\n")
