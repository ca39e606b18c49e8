#!/usr/bin/env python3
"""cnncodes and ONNX Runtime taking turns on one model: the speed ratio on a noisy machine.

On this shared machine the speed available to a process swings by 2-4x within seconds (a
register-only FMA probe read 32-71 GFLOP/s per core for hours at a time, ~170 when quiet).
Runs of several seconds per side, even interleaved, then land in different regimes: the
round ratios of one benchmarks/forward run spread 0.79-1.45 on SqueezeNet. Here both sides
stay loaded and take short turns instead (~TURN seconds each, cnncodes first in even pairs,
ORT first in odd ones), each turn one untimed pass (the other side's turn evicted the caches)
and then timed passes; the ratio of each adjacent pair of turns shares the machine's state,
and their median is the figure. The quartiles of the pair ratios are printed beside it.

ORT is configured as ../shared/bench/ort_bench.py configures it (intra-op threads = THREADS,
inter-op 1, default graph optimizations, CPU provider, seeded standard-normal input, the
model's fixed batch where it has one; its log level aside). cnncodes runs `forward --benchmark --turns` (hidden
flag: passes on demand, timed by itself), so neither side pays process start-up or model
loading inside a turn. Between turns both sides idle for 20 ms, so that spinning pool threads
(ORT's, ours: 100 us) park before the other side starts.

With --against BINARY2 the peer is a second cnncodes instead of ORT (A/B of two builds, or
of one build under two environments: --env / --against-env NAME=VALUE, repeatable).

usage: benchmarks/turns.py BINARY MODEL [--batch 1] [--threads 2] [--seconds 20] [--turn 0.3]
                           [--env K=V]... [--against BINARY2 [--against-env K=V]...]
prints one line: cnncodes_images_per_s peer_images_per_s median_ratio p25 p75 pairs gflop_per_image
(medians over the turns; SECONDS is each side's total time in turns)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--turn", type=float, default=0.3)
ap.add_argument("--env", action="append", default=[])
ap.add_argument("--against")
ap.add_argument("--against-env", action="append", default=[])
a = ap.parse_args()


def start(binary, env):
    """`binary forward --benchmark --turns`, once it is ready; (process, GFLOP per image, images per pass)."""
    environment = dict(os.environ, **dict(kv.split("=", 1) for kv in env))
    process = subprocess.Popen(
        [binary, "forward", a.model, "--benchmark", "--turns", "--batch", str(a.batch), "--threads", str(a.threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=environment)
    gflop = images = None
    for line in process.stdout:
        if line.startswith("flops:"):
            gflop = float(line.split()[1])
        if line.startswith("images:"):
            images = int(line.split()[1])
        if line.strip() == "ready":
            return process, gflop, images
    sys.exit(f"turns.py: {binary} ended before it was ready (exit {process.wait()})")


def turn_of(process, binary):
    def turn(passes):
        process.stdin.write(f"{passes}\n")
        process.stdin.flush()
        reply = process.stdout.readline()
        if not reply:
            sys.exit(f"turns.py: {binary} ended during a turn (exit {process.wait()})")
        return float(reply)
    return turn


ours, gflop, images = start(a.binary, a.env)
our_turn = turn_of(ours, a.binary)
if a.against:
    other, _, _ = start(a.against, a.against_env)
    peer_turn = turn_of(other, a.against)
else:
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # its warnings about unused initializers are not ours to print
    peer = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    inp = peer.get_inputs()[0]
    shape = [a.batch if not isinstance(d, int) else d for d in inp.shape]
    if isinstance(inp.shape[0], int) and inp.shape[0] != a.batch:
        shape[0] = inp.shape[0]
    if shape[0] != images:
        sys.exit(f"turns.py: ORT runs batches of {shape[0]}, {a.binary} of {images}")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def peer_turn(passes):
        peer.run(None, {inp.name: x})
        begin = time.perf_counter()
        for _ in range(passes):
            peer.run(None, {inp.name: x})
        return time.perf_counter() - begin


def passes_per_turn(turn):
    """Passes that take about a.turn seconds (at least one), from a one-pass probe."""
    return max(1, round(a.turn / max(turn(1), 1e-6)))


sides = {"ours": (our_turn, passes_per_turn(our_turn)), "peer": (peer_turn, passes_per_turn(peer_turn))}
ours_rates, peer_rates, ratios = [], [], []
spent = 0.0
while spent < a.seconds or len(ratios) < 5:
    pair = {}
    for side in (("ours", "peer") if len(ratios) % 2 == 0 else ("peer", "ours")):
        time.sleep(0.02)
        turn, passes = sides[side]
        seconds = turn(passes)
        pair[side] = passes * images / seconds
        spent += seconds / 2  # both sides' turns count half: SECONDS is each side's share
    ours_rates.append(pair["ours"])
    peer_rates.append(pair["peer"])
    ratios.append(pair["ours"] / pair["peer"])
for process in [ours] + ([other] if a.against else []):
    process.stdin.write("\n")
    process.stdin.close()
    process.wait()

q1, _, q3 = statistics.quantiles(ratios, n=4)
print(f"{statistics.median(ours_rates):.2f} {statistics.median(peer_rates):.2f} {statistics.median(ratios):.3f} "
      f"{q1:.3f} {q3:.3f} {len(ratios)} {gflop:.3f}")
