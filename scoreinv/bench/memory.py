"""Peak memory of one method's run: resident set size sampled in a thread, or CUDA's peak counter."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import threading

import torch

MEMORY_POLL_SECONDS = 0.005


class PeakMemory:
    """Peak memory of a block in MB: on CUDA, the bytes torch allocated above the level at the start
    (``torch.cuda.max_memory_allocated``); on the CPU, the process's resident set size above its level at the start
    (free heap pages returned first), sampled every 5 ms by a helper thread (``ru_maxrss`` growth without /proc).

    Args:
        device: the torch device the block computes on.
    """

    def __init__(self, device):
        self.device = torch.device(device)
        self.megabytes = None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        _return_free_memory()
        self.start = self.peak = _resident_bytes()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.megabytes = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2 ** 20
            return False
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, _resident_bytes())
        self.megabytes = max(0, self.peak - self.start) / 2 ** 20
        return False

    def _poll(self):
        while not self.stop.wait(MEMORY_POLL_SECONDS):
            self.peak = max(self.peak, _resident_bytes())


def _return_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``), so that the RSS growth of the next
    block is its own working set rather than what an earlier block left for reuse; no-op elsewhere."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _resident_bytes() -> int:
    """The process's resident set size now (/proc/self/statm), or its high-water mark (ru_maxrss) without /proc."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_measure(device) -> str:
    """One line saying what the peak-memory column measures on ``device``."""
    if torch.device(device).type == "cuda":
        return "CUDA memory allocated by torch above the level at the method's start (max_memory_allocated), MB"
    return ("CPU resident set size above its level at the method's start (after returning the C heap's free pages "
            "with malloc_trim), sampled every 5 ms from /proc/self/statm, MB")
