"""What ``scoreinv bench tasks`` and ``scoreinv bench merge`` write: results.json (settings, command, date, machine,
per-image rows), results.csv (the rows), summary.md (means per task and method) and figure.png."""
from __future__ import annotations

import csv
import io
import json
import os
import platform
import resource
import shutil
from datetime import datetime, timezone
from pathlib import Path

import torch

from scoreinv.bench.docs_section import cpu_model, git_commit
from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path
from scoreinv.io.json_files import read_json

RESULTS_JSON, RESULTS_CSV, SUMMARY_MD, FIGURE_PNG = "results.json", "results.csv", "summary.md", "figure.png"
CSV_COLUMNS = ("image", "index", "task", "method", "kind", "default", "psnr", "ssim", "lpips", "seconds", "nfe",
               "peak_mb")
FORMAT = "scoreinv-bench-tasks/1"


# The record

def machine_info(device) -> dict:
    """Platform, CPU count, torch version and threads, and the GPU's name when running on CUDA.

    Args:
        device: the torch device the benchmark ran on.
    """
    device = torch.device(device)
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "device": str(device)}
    info.update(cpu=cpu_model(), commit=git_commit())
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    info["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return info


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_record(path) -> dict:
    """A results.json (or the folder holding one) written by ``scoreinv bench tasks``; one-line error otherwise.

    Args:
        path: results.json or its folder.
    """
    path = Path(path)
    file = path / RESULTS_JSON if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{path}: no {RESULTS_JSON} (run 'scoreinv bench tasks --out {path}' first)")
    record = read_json(file, what="benchmark result")
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(f"{file}: not a 'scoreinv bench tasks' result")
    return record


# Tables

def sort_rows(rows: list, tasks: list) -> list:
    """Rows ordered by task (in ``tasks`` order), image index, and method (each task's order of appearance).

    Args:
        rows: per-image rows.
        tasks: task names in table order.
    """
    order = {name: i for i, name in enumerate(tasks)}
    methods: dict = {}
    for row in rows:
        methods.setdefault(row["task"], {}).setdefault(row["method"], len(methods[row["task"]]))
    return sorted(rows, key=lambda row: (order.get(row["task"], len(order)), row["index"],
                                         methods[row["task"]][row["method"]]))


def summarise(rows: list, tasks: list) -> list:
    """Mean PSNR, SSIM, LPIPS, seconds, NFE and peak MB per (task, method), tasks in the given order, methods in
    their order of appearance; values that are null are left out of the means.

    Args:
        rows: per-image rows.
        tasks: task names in table order.
    """
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["task"], row["method"]), []).append(row)
    order = {name: i for i, name in enumerate(tasks)}
    summary = []
    for (task, method), members in sorted(groups.items(), key=lambda item: order.get(item[0][0], len(order))):
        entry = {"task": task, "method": method, "kind": members[0]["kind"], "default": members[0]["default"],
                 "images": len(members)}
        for key in ("psnr", "ssim", "lpips", "seconds", "nfe", "peak_mb"):
            values = [row[key] for row in members if row.get(key) is not None]
            entry[key] = sum(values) / len(values) if values else None
        summary.append(entry)
    return summary


def markdown_table(summary: list) -> str:
    """The summary as a Markdown table: one row per task × method."""
    lines = ["| task | method | images | PSNR (dB) | SSIM | LPIPS | seconds | NFE | peak MB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for entry in summary:
        method = entry["method"] + (" (default)" if entry["default"] else "")
        cells = [entry["task"], method, str(entry["images"]), _cell(entry["psnr"], ".2f"), _cell(entry["ssim"], ".4f"),
                 _cell(entry["lpips"], ".4f"), _cell(entry["seconds"], ".2f"), _cell(entry["nfe"], ".0f"),
                 _cell(entry["peak_mb"], ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary_markdown(record: dict) -> str:
    """summary.md: what was run (command, date, machine, settings), the table, and the notes."""
    machine = record["machine"]
    lines = ["# scoreinv bench tasks", "", f"- command: `{record['command']}`", f"- date: {record['date']}",
             f"- machine: {machine['platform']}, {machine['cpu_count']} CPUs, torch {machine['torch']} "
             f"(torch threads: {machine['torch_threads']}), device {machine['device']}"
             + (f" ({machine['gpu']})" if machine.get("gpu") else ""),
             f"- images: {len(record['images'])} of {record['settings']['data']}; shards: "
             + ", ".join(f"{i}/{n}" for i, n in record["shards"]),
             f"- NFE: network evaluations per image, all samples; seconds: wall clock per image; peak MB: "
             f"{record['memory_measure']}", "", markdown_table(record["summary"]), ""]
    lines += [f"Note: {note}" for note in record["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def csv_text(rows: list) -> str:
    """The per-image rows as CSV (empty cells for nulls)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row[key]) for key in CSV_COLUMNS})
    return buffer.getvalue()


# Writing

def write_outputs(out, record: dict, *, figure: torch.Tensor | None = None, figure_from: Path | None = None) -> list:
    """Write results.json, results.csv, summary.md and (given a figure or a figure file) figure.png into ``out``,
    each atomically (an older figure.png is removed when there is none); returns the paths written.

    Args:
        out: the output folder (created if missing).
        record: the run's record (see :func:`scoreinv.bench.tasks` and :func:`merge_records`).
        figure: the comparison figure (C, H, W) in [0, 1].
        figure_from: an existing figure.png to copy instead.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((RESULTS_JSON, json.dumps(record, indent=1, allow_nan=False) + "\n"),
                       (RESULTS_CSV, csv_text(record["rows"])), (SUMMARY_MD, summary_markdown(record))):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text)
        written.append(out / name)
    if figure is not None:
        from scoreinv.io.images import write_image

        written.append(write_image(out / FIGURE_PNG, figure))
    elif figure_from is not None:
        if Path(figure_from).resolve() != (out / FIGURE_PNG).resolve():
            with atomic_path(out / FIGURE_PNG) as tmp:
                shutil.copyfile(figure_from, tmp)
        written.append(out / FIGURE_PNG)
    else:
        (out / FIGURE_PNG).unlink(missing_ok=True)  # a figure of an earlier run would not match these results
    return written


def make_record(run, options, *, command: str, device) -> dict:
    """The results.json record of one run (see :class:`scoreinv.bench.tasks.BenchRun`).

    Args:
        run: the BenchRun.
        options: its BenchOptions.
        command: the command line that reproduces it.
        device: the resolved torch device.
    """
    from scoreinv.bench.memory import memory_measure
    from scoreinv.bench.peers import deepinv_version

    rows = run.rows
    return {"format": FORMAT, "command": command, "date": now(), "machine": machine_info(device),
            "settings": options.settings(), "shards": [list(options.shard)], "images": run.images,
            "memory_measure": memory_measure(device), "deepinv": deepinv_version() if options.peers else None,
            "method_settings": run.method_settings, "notes": run.notes,
            "summary": summarise(rows, list(options.tasks)), "rows": rows}


def merge_records(records: list, sources: list, *, command: str) -> dict:
    """One record from the results of the shards of a run (same settings but ``--limit``, which only chooses the
    images: an image's measurement and seeds depend on its index alone); one-line errors for other different
    settings or an image measured twice.

    Args:
        records: the shards' records.
        sources: where each came from (for messages).
        command: the merge command line.
    """
    first = records[0]
    for record, source in zip(records[1:], sources[1:]):
        different = [key for key in first["settings"]
                     if key != "limit" and record["settings"].get(key) != first["settings"][key]]
        if different:
            key = different[0]
            raise InputError(f"{source} was run with {key}={record['settings'].get(key)!r} but {sources[0]} with "
                             f"{first['settings'][key]!r}; merge only the shards of one run")
    rows, seen, images = [], {}, {}
    for record, source in zip(records, sources):
        for row in record["rows"]:
            key = (row["task"], row["method"], row["index"])
            if key in seen:
                raise InputError(f"image {row['index']} ({row['image']}) of {row['task']} / {row['method']} is in "
                                 f"both {seen[key]} and {source}; merge each shard once")
            seen[key] = source
            rows.append(row)
        images.update({image["index"]: image for image in record["images"]})
    tasks = first["settings"]["tasks"]
    rows = sort_rows(rows, tasks)
    shards = sorted({tuple(s) for record in records for s in record["shards"]})
    notes = list(dict.fromkeys(note for record in records for note in record["notes"]))
    notes += _missing_shards(shards)
    method_settings = {}
    for record in records:
        for task, entries in record.get("method_settings", {}).items():
            method_settings.setdefault(task, {}).update(entries)
    limits = [record["settings"].get("limit") for record in records]
    settings = {**first["settings"], "limit": None if None in limits else max(limits)}
    return {**first, "command": command, "date": now(), "settings": settings, "shards": [list(s) for s in shards],
            "images": [images[i] for i in sorted(images)], "notes": notes, "method_settings": method_settings,
            "sources": [{"path": str(source), "date": record["date"], "machine": record["machine"],
                         "shards": record["shards"]} for record, source in zip(records, sources)],
            "summary": summarise(rows, tasks), "rows": rows}


def _missing_shards(shards: list) -> list:
    """A note when the merged shards of an i/n split do not cover every i."""
    totals = {n for _, n in shards}
    if len(totals) != 1 or 1 in totals:
        return []
    n = totals.pop()
    missing = sorted(set(range(n)) - {i for i, _ in shards})
    return [f"shards {', '.join(f'{i}/{n}' for i in missing)} are missing from this merge"] if missing else []


# The comparison figure

def comparison_figure(parts: dict, tasks: list) -> torch.Tensor | None:
    """Rows of tasks, columns truth | measurement | best baseline | scoreinv | std map, for one image.

    Args:
        parts: task name → panels (see ``scoreinv.bench.tasks._figure_parts``).
        tasks: task names in row order.
    """
    from scoreinv.io.figures import GAP, side_by_side

    rows = []
    for name in [name for name in tasks if name in parts]:
        panels, labels = _figure_row(parts[name])
        rows.append(side_by_side(panels, labels=labels))
    if not rows:
        return None
    channels = max(row.shape[0] for row in rows)
    rows = [row.expand(channels, -1, -1) for row in rows]
    width = max(row.shape[2] for row in rows)
    height = sum(row.shape[1] for row in rows) + GAP * (len(rows) - 1)
    canvas = torch.ones(channels, height, width)
    top = 0
    for row in rows:
        canvas[:, top:top + row.shape[1], :row.shape[2]] = row
        top += row.shape[1] + GAP
    return canvas


def _figure_row(part: dict) -> tuple:
    """(panels, labels) of one task's row."""
    from scoreinv.io.figures import colour_map, sinogram_panel, std_map, upsample_nearest

    truth = part["truth"].cpu()
    height, width = truth.shape[-2:]
    y = part["y"]
    if part["family"] == "ct":
        measurement = sinogram_panel(y, height)
    elif tuple(y.shape[-2:]) == (height, width):
        measurement = y.clamp(0, 1)
    else:
        measurement = upsample_nearest(y.clamp(0, 1), (height, width))
    panels, labels = [truth, measurement], [f"{part['task']}: truth", "measurement"]
    if part["baseline"] is not None:
        panels.append(part["baseline"][0])
        labels.append(part["baseline"][1])
    panels.append(part["scoreinv"][0])
    labels.append(part["scoreinv"][1])
    if part["std"] is not None:
        spread, white = std_map(part["std"])
        panels.append(colour_map(spread[0]))
        labels.append(f"std (max {white:.3f})")
    else:
        panels.append(torch.ones_like(truth))
        labels.append("std n/a")
    return panels, labels
