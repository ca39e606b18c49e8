#!/usr/bin/env python3
"""The peer of `cnncodes extract`: PIL decode + resize + crop (as ../shared/bench/tl_reference.py)
and ONNX Runtime forward passes in batches, ReLU'd codes of one layer kept in memory.
Prints one line: `peer: N images in S s (R images/s)`.
usage: extract_peer.py MODEL LAYER DATA_DIR [--batch 16] [--threads 2]"""
import argparse, glob, os, time
import numpy as np, onnx, onnxruntime as ort
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument('model'); ap.add_argument('layer'); ap.add_argument('data')
ap.add_argument('--batch', type=int, default=16); ap.add_argument('--threads', type=int, default=2)
a = ap.parse_args()
m = onnx.load(a.model)
if a.layer not in [o.name for o in m.graph.output]:
    m.graph.output.append(onnx.helper.make_tensor_value_info(a.layer, onnx.TensorProto.FLOAT, None))
so = ort.SessionOptions(); so.intra_op_num_threads = a.threads
s = ort.InferenceSession(m.SerializeToString(), so, providers=['CPUExecutionProvider'])
iname = s.get_inputs()[0].name

def prep(p):
    im = Image.open(p).convert('RGB'); w, h = im.size; sc = 256 / min(w, h)
    im = im.resize((round(w * sc), round(h * sc)), Image.BILINEAR); w, h = im.size
    l, t = (w - 224) // 2, (h - 224) // 2
    x = (np.asarray(im.crop((l, t, l + 224, t + 224)), np.float32) - 127.0) / 128.0
    return x.transpose(2, 0, 1)

paths = sorted(p for p in glob.glob(os.path.join(a.data, '**', '*'), recursive=True) if os.path.isfile(p))
t0 = time.perf_counter()
codes, batch, done = [], [], 0
def flush():
    global batch, done
    if batch:
        out = s.run([a.layer], {iname: np.stack(batch)})[0]
        codes.append(np.maximum(out.reshape(len(batch), -1), 0)); done += len(batch); batch = []
for p in paths:
    try:
        batch.append(prep(p))
    except Exception:
        continue  # the peer skips what PIL cannot open, as the extractor records and skips it
    if len(batch) == a.batch: flush()
flush()
dt = time.perf_counter() - t0
print(f"peer: {done} images in {dt:.1f} s ({done / dt:.1f} images/s)")
