#!/usr/bin/env python3
"""Independent reference for prsmed/metrics and zones.FromMask.

Writes small 8-bit grey PNG mask pairs and the numbers the official PRS-Med
evaluation (evaluation/segmentation/eval.py with the PraNet toolbox's
Fmeasure_calu) would compute for them, using only numpy and PIL:

  testdata/metrics/<case>_pred.png, <case>_gt.png
  testdata/metrics/metrics_ref.json

Rules restated here (written from the description, not from the Go code):
  * prediction = grey / 255, resized to the ground-truth size with OpenCV's
    INTER_NEAREST mapping: src = min(floor(dst * (1 / (dst_size / src_size))), src_size - 1);
  * ground truth = grey / 255 > 0.5;
  * thresholds = numpy.linspace(1, 0, 256); binarise prediction >= t;
  * Dice = 2 TP / (|GT| + |Pred|), IoU = TP / (TP + FP + FN), both 0 when TP == 0;
  * per group: mean over images for each threshold, then mean (mDice, mIoU) and
    max (maxDice, maxIoU) over thresholds; Dice@0.5/IoU@0.5 use prediction >= 0.5;
  * zone (data_processing/mask_position.py): foreground = grey > 0; bbox; centre
    pixel (W//2, H//2); bbox covering it -> center (near); else quadrant of the bbox
    centre ((min+max)//2), ties right/bottom; near when distance < 0.2 * W.

Run from the repository root:  /usr/bin/python3 third_party/golden/metrics_ref.py
The output is a pure function of SEED. When OpenCV (cv2) happens to be
installed, the resize is also checked against cv2.resize.
"""

import json
import os
import sys

import numpy as np
from PIL import Image

SEED = 20250511
OUT = os.path.join("testdata", "metrics")
THRESHOLDS = np.linspace(1, 0, 256)


def nearest_resize(a, w, h):
    """OpenCV INTER_NEAREST: top-left aligned floor mapping."""
    sh, sw = a.shape
    xs = np.minimum(np.floor(np.arange(w) * (1.0 / (w / sw))).astype(np.int64), sw - 1)
    ys = np.minimum(np.floor(np.arange(h) * (1.0 / (h / sh))).astype(np.int64), sh - 1)
    return a[ys[:, None], xs[None, :]]


def scores(pred_u8, gt_u8):
    h, w = gt_u8.shape
    pred = nearest_resize(pred_u8, w, h).astype(np.float64) / 255
    gt = (gt_u8.astype(np.float64) / 255) > 0.5

    def at(t):
        on = pred >= t
        tp = int(np.sum(on & gt))
        npred, ngt = int(np.sum(on)), int(np.sum(gt))
        if tp == 0:
            return 0.0, 0.0
        return 2.0 * tp / (npred + ngt), tp / (npred + ngt - tp)

    dice = np.zeros(len(THRESHOLDS))
    iou = np.zeros(len(THRESHOLDS))
    for j, t in enumerate(THRESHOLDS):
        dice[j], iou[j] = at(t)
    d05, i05 = at(0.5)
    return d05, i05, dice, iou


def zone(gt_u8):
    h, w = gt_u8.shape
    cx, cy = w // 2, h // 2
    ys, xs = np.nonzero(gt_u8 > 0)
    if len(xs) == 0:
        return None, None
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    if x0 <= cx <= x1 and y0 <= cy <= y1:
        return "center", True
    tx, ty = (x0 + x1) // 2, (y0 + y1) // 2
    near = bool(np.sqrt(float((tx - cx) ** 2 + (ty - cy) ** 2)) < 0.2 * w)
    vert = "top" if ty < cy else "bottom"
    horiz = "left" if tx < cx else "right"
    return vert + " " + horiz, near


def blob(rng, w, h, value=255):
    """A filled ellipse at a random place."""
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = rng.uniform(2, w / 3), rng.uniform(2, h / 3)
    inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    m = np.zeros((h, w), np.uint8)
    m[inside] = value
    return m


def soft(rng, gt, w, h):
    """A plausible probability map for gt at size w x h: a shifted, noisy,
    blurred copy, quantised to 8 bits like a saved prediction."""
    g = nearest_resize(gt, w, h).astype(np.float64) / 255
    g = np.roll(g, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    for _ in range(2):  # box blur
        p = np.pad(g, 1, mode="edge")
        g = sum(p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9
    g = np.clip(g + rng.normal(0, 0.15, g.shape), 0, 1)
    return np.round(g * 255).astype(np.uint8)


def cases(rng):
    out = []

    def add(name, group, pred, gt):
        out.append((name, group, pred.astype(np.uint8), gt.astype(np.uint8)))

    W, H = 32, 48
    g = blob(rng, W, H)
    add("blob_same_size", "alpha", soft(rng, g, W, H), g)
    g = blob(rng, W, H)
    add("blob_upsample", "alpha", soft(rng, g, 16, 24), g)
    g = blob(rng, W, H)
    add("blob_downsample", "alpha", soft(rng, g, 48, 40), g)
    g = blob(rng, 23, 41)
    add("blob_odd_sizes", "alpha", soft(rng, g, 37, 29), g)
    # 14 -> 18 columns and 21 -> 27 rows are sizes where floor(x * (1 / (d / s)))
    # differs from floor(x * s / d): only the OpenCV order of operations matches.
    add("resize_rounding", "alpha", rng.integers(0, 256, (21, 14)), blob(rng, 18, 27))
    g = blob(rng, W, H)
    add("empty_prediction", "alpha", np.zeros((H, W)), g)
    add("empty_ground_truth", "alpha", rng.integers(0, 256, (H, W)), np.zeros((H, W)))
    add("both_empty", "alpha", np.zeros((H, W)), np.zeros((H, W)))

    add("full_image", "beta", np.full((H, W), 255), np.full((H, W), 255))
    g = np.zeros((H, W))
    g[7, 21] = 255
    p = np.zeros((H, W))
    p[7, 21] = 200
    p[7, 22] = 90
    add("one_pixel_hit", "beta", p, g)
    g = np.zeros((H, W))
    g[40, 3] = 255
    p = np.zeros((H, W))
    p[10, 30] = 255
    add("one_pixel_miss", "beta", p, g)
    add("gt_grey_levels", "beta", rng.integers(0, 256, (H, W)),
        np.where(rng.random((H, W)) < 0.5, 127, 128) * (rng.random((H, W)) < 0.6))
    add("every_level", "beta", np.arange(256).reshape(16, 16),
        (rng.random((16, 16)) < 0.5) * 255)
    add("uniform_noise", "beta", rng.integers(0, 256, (H, W)), (rng.random((H, W)) < 0.3) * 255)
    add("constant_mid", "beta", np.full((H, W), 128), np.tile(np.arange(W) < W // 2, (H, 1)) * 255)
    g = blob(rng, 40, 30, value=1)  # faint mask: a zone but no ground truth
    add("faint_gt", "beta", soft(rng, blob(rng, 40, 30), 40, 30), g)
    return out


def check_against_cv2(items):
    try:
        import cv2  # noqa: F401  (optional)
    except ImportError:
        return
    for name, _, pred, gt in items:
        h, w = gt.shape
        want = cv2.resize(pred, (w, h), interpolation=cv2.INTER_NEAREST)
        if not np.array_equal(want, nearest_resize(pred, w, h)):
            sys.exit("resize of %s differs from cv2.resize" % name)
    print("nearest resize agrees with cv2 %s" % cv2.__version__)


def group_stats(rows):
    dice = np.stack([r[2] for r in rows])
    iou = np.stack([r[3] for r in rows])
    col_d, col_i = np.mean(dice, axis=0), np.mean(iou, axis=0)
    return {
        "images": len(rows),
        "dice05": float(np.mean([r[0] for r in rows])),
        "iou05": float(np.mean([r[1] for r in rows])),
        "mean_dice": float(np.mean(col_d)),
        "mean_iou": float(np.mean(col_i)),
        "max_dice": float(np.max(col_d)),
        "max_iou": float(np.max(col_i)),
    }


def main():
    rng = np.random.default_rng(SEED)
    items = cases(rng)
    check_against_cv2(items)
    os.makedirs(OUT, exist_ok=True)
    doc = {"seed": SEED, "thresholds": [float(t) for t in THRESHOLDS], "cases": []}
    groups = {}
    for name, group, pred, gt in items:
        Image.fromarray(pred, mode="L").save(os.path.join(OUT, name + "_pred.png"), optimize=True)
        Image.fromarray(gt, mode="L").save(os.path.join(OUT, name + "_gt.png"), optimize=True)
        # Score what was written, read back.
        pred = np.array(Image.open(os.path.join(OUT, name + "_pred.png")))
        gt = np.array(Image.open(os.path.join(OUT, name + "_gt.png")))
        d05, i05, dice, iou = scores(pred, gt)
        z, near = zone(gt)
        groups.setdefault(group, []).append((d05, i05, dice, iou))
        doc["cases"].append({
            "name": name,
            "group": group,
            "pred": name + "_pred.png",
            "gt": name + "_gt.png",
            "zone": z,
            "near": near,
            "dice05": float(d05),
            "iou05": float(i05),
            "mean_dice": float(np.mean(dice)),
            "mean_iou": float(np.mean(iou)),
            "max_dice": float(np.max(dice)),
            "dice": [float(x) for x in dice],
            "iou": [float(x) for x in iou],
        })
    doc["groups"] = {g: group_stats(rows) for g, rows in sorted(groups.items())}
    doc["overall"] = group_stats([r for g in sorted(groups) for r in groups[g]])
    with open(os.path.join(OUT, "metrics_ref.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %d cases to %s" % (len(items), OUT))


if __name__ == "__main__":
    main()
