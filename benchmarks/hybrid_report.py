#!/usr/bin/env python3
"""hybrid_report.py DIR [PREFIX...] — aggregate `vdmzip eval --hybrid --json`
files (one image each) into DIR/curve.md, DIR/curve.csv and, with gnuplot,
DIR/curve.png.  Groups: files named PREFIX_*.json (default: every prefix
found before the first '_').  Means are per sub-pixel over all images of a
group (bits summed, divided by all sub-pixels)."""
import glob, json, os, shutil, subprocess, sys

def load(d):
    groups = {}
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        try:
            j = json.load(open(f))
        except ValueError:
            continue
        im = j["images"][0]
        g = os.path.basename(f).split("_")[0]
        groups.setdefault(g, []).append((os.path.basename(f)[:-5], j["steps"] if "steps" in j else None, im))
    return groups

def main():
    d = sys.argv[1]
    groups = load(d)
    # the data term's coder (hybrid_curve.sh writes it; older folders: CM3)
    cf = os.path.join(d, "coder.txt")
    CM = open(cf).read().strip() if os.path.exists(cf) else "CM3"
    md, csv = [], ["group,k,t,noise_px,chain,data,total,cm_alone,vs_cm"]
    plots = []
    for g, ims in sorted(groups.items()):
        dims = sum(im["width"] * im["height"] * 3 for _, _, im in ims)
        w = lambda im: im["width"] * im["height"] * 3
        model = sum(im["total"] * w(im) for _, _, im in ims) / dims
        cm = sum(im["cm_alone"] * w(im) for _, _, im in ims) / dims
        ks = [h["k"] for h in ims[0][2]["hybrid"]]
        T = len(ims[0][2]["steps"])
        md.append(f"### {g}: {len(ims)} images, {dims} sub-pixels\n")
        md.append(f"Model alone (-VLB, T = {T}) **{model:.4f}**, {CM} alone **{cm:.4f}** bits per sub-pixel.\n")
        md.append(f"| k | t* | noise (8-bit units) | chain above t* | {CM} given z_t* | hybrid bound | vs {CM} alone | best k (images) |")
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        best = {}
        for _, _, im in ims:
            b = min(im["hybrid"], key=lambda h: h["total"])
            best[b["k"]] = best.get(b["k"], 0) + 1
        rows = []
        for q, k in enumerate(ks):
            ch = sum(im["hybrid"][q]["chain"] * w(im) for _, _, im in ims) / dims
            da = sum(im["hybrid"][q]["data"] * w(im) for _, _, im in ims) / dims
            nz = ims[0][2]["hybrid"][q]["noise_px"]
            tot = ch + da
            rows.append((k, k / T, nz, ch, da, tot))
            md.append(f"| {k} | {k / T:.4f} | {nz:.3f} | {ch:.4f} | {da:.4f} | {tot:.4f} | {100 * (tot / cm - 1):+.2f} % | {best.get(k, 0)} |")
            csv.append(f"{g},{k},{k / T:.6f},{nz:.6f},{ch:.6f},{da:.6f},{tot:.6f},{cm:.6f},{tot / cm:.6f}")
        # per-step diffusion terms (mean over the group) and what each span of steps bought
        steps = [sum(im["steps"][i] * w(im) for _, _, im in ims) / dims for i in range(T)]
        md.append("\nPer span of steps: what the chain's steps cost against what the CM coder gains from")
        md.append("knowing z at the lower noise level (positive = the model's steps lose to CM there):\n")
        md.append(f"| steps | chain cost | {CM} gain from z | net |")
        md.append("|---|---:|---:|---:|")
        for a, b in zip(rows[:-1], rows[1:]):
            cost = a[3] - b[3]
            gain = b[4] - a[4]
            md.append(f"| {a[0] + 1}..{b[0]} | {cost:.4f} | {gain:.4f} | {cost - gain:+.4f} |")
        md.append("\nDiffusion term per step (bits per sub-pixel), step i between t = (i-1)/T and i/T:\n")
        md.append("| " + " | ".join(str(i + 1) for i in range(T)) + " |")
        md.append("|" + "---:|" * T)
        md.append("| " + " | ".join(f"{s:.4f}" for s in steps) + " |\n")
        plots.append((g, rows, cm, model))
    open(os.path.join(d, "curve.md"), "w").write("\n".join(md) + "\n")
    open(os.path.join(d, "curve.csv"), "w").write("\n".join(csv) + "\n")
    if shutil.which("gnuplot") and plots:
        dat = os.path.join(d, "curve.dat")
        with open(dat, "w") as f:
            for g, rows, cm, model in plots:
                f.write(f"# {g}\n")
                for r in rows:
                    f.write(f"{r[1]:.6f} {r[5]:.6f} {cm:.6f} {model:.6f}\n")
                f.write("\n\n")
        cmds = ["set terminal pngcairo size 900,560" if False else "set terminal png size 900,560",
                f"set output '{os.path.join(d, 'curve.png')}'",
                f"set title 'Hybrid chain: bound against the truncation point t* (model to t*, {CM} given z_t*)'",
                "set xlabel 't* (k / T)'", "set ylabel 'bits per sub-pixel'", "set key top left", "set grid"]
        pl = []
        for i, (g, rows, cm, model) in enumerate(plots):
            pl.append(f"'{dat}' index {i} using 1:2 with linespoints lw 2 title '{g}: hybrid bound'")
            pl.append(f"'{dat}' index {i} using 1:3 with lines dt 2 title '{g}: {CM} alone'")
        cmds.append("plot " + ", ".join(pl))
        subprocess.run(["gnuplot"], input="\n".join(cmds).encode(), check=True)
        os.remove(dat)
    print(open(os.path.join(d, "curve.md")).read())

if __name__ == "__main__":
    main()
